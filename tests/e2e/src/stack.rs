//! The local stack as the tests hold it: `local_stack::Stack`, plus what the tests remember.

use std::ops::Deref;
use std::sync::Mutex;
use std::sync::atomic::AtomicUsize;

pub use local_stack::StackOptions;
pub use local_stack::stack::{
    APP_ID, APP_SECRET, APP_SECRET_ID, LOGIN_CONFIG_ID, OBO_CONFIG_ID, PARTNER_BUSINESS_ID,
    PARTNER_SECRET_ID, PARTNER_SYSTEM_USER_ID, SECRET_PREFIX, TABLE, WEBHOOK_VERIFY_TOKEN,
    workspace_root,
};

pub struct Stack {
    local: local_stack::Stack,
    /// Every onboarding state handed out, so the log scan can look for them.
    pub states: Mutex<Vec<String>>,
    /// Session cookies received and `signed_request`s sent, for the same scan.
    pub credentials: Mutex<Vec<String>>,
    /// The body of every refusal and failure answered, for the same scan.
    pub refusals: Mutex<Vec<String>>,
    /// GETs sent again because `cargo lambda watch` lost their answer (`Stack::get`).
    pub lost_answers: AtomicUsize,
}

impl Stack {
    pub async fn start(options: StackOptions) -> Result<Self, String> {
        Ok(Self {
            local: local_stack::Stack::start(options).await?,
            states: Mutex::new(Vec::new()),
            credentials: Mutex::new(Vec::new()),
            refusals: Mutex::new(Vec::new()),
            lost_answers: AtomicUsize::new(0),
        })
    }
}

// The URLs, clients and proxies of the running stack.
impl Deref for Stack {
    type Target = local_stack::Stack;

    fn deref(&self) -> &Self::Target {
        &self.local
    }
}
