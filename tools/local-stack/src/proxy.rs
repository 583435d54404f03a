//! A TCP forwarder on loopback that tests can switch off, to make AWS or Graph unreachable.

use std::net::SocketAddr;
use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub struct Proxy {
    pub port: u16,
    up: watch::Sender<bool>,
}

impl Proxy {
    pub async fn start(target: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let (up, rx) = watch::channel(true);
        tokio::spawn(accept_loop(listener, target, rx));
        Ok(Self { port, up })
    }

    /// Down: open connections are cut and new ones are closed at once.
    pub fn set_up(&self, up: bool) {
        self.up.send_replace(up);
    }
}

async fn accept_loop(listener: TcpListener, target: SocketAddr, rx: watch::Receiver<bool>) {
    while let Ok((mut inbound, _)) = listener.accept().await {
        if !*rx.borrow() {
            drop(inbound);
            continue;
        }
        let mut rx = rx.clone();
        tokio::spawn(async move {
            let Ok(mut outbound) = TcpStream::connect(target).await else {
                return;
            };
            tokio::select! {
                _ = copy_bidirectional(&mut inbound, &mut outbound) => {}
                _ = rx.wait_for(|up| !*up) => {}
            }
        });
    }
}
