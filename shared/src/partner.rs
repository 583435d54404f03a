//! The partner's own system user token, kept in its own secret and read only by the flows
//! that need it (recovery of a lost BISU, removal of an On-Behalf-Of relationship).

use secrecy::SecretString;

use crate::error::{Error, Result};
use crate::ports::Ports;

pub async fn system_user_token(ports: &Ports) -> Result<SecretString> {
    let name = ports.settings.names.partner_system_user();
    match ports.vault.token(&name, None).await? {
        Some(secret) => Ok(secret.access_token),
        None => Err(Error::PartnerCredentials(format!(
            "the partner system user secret {name} holds no token: the operator must put it"
        ))),
    }
}
