//! The partner's own system user token, kept in its own secret and read only by the flows
//! that need it (recovery of a lost BISU, removal of an On-Behalf-Of relationship).

use secrecy::SecretString;

use crate::error::{Error, Result};
use crate::model::TokenSecret;
use crate::ports::Ports;

pub async fn system_user_token(ports: &Ports) -> Result<SecretString> {
    Ok(system_user_secret(ports).await?.access_token)
}

/// The partner secret as stored: the token and its system user.
pub async fn system_user_secret(ports: &Ports) -> Result<TokenSecret> {
    let name = ports.settings.names.partner_system_user();
    ports.vault.token(&name, None).await?.ok_or_else(|| {
        Error::PartnerCredentials(format!(
            "the partner system user secret {name} holds no token: the operator must put it"
        ))
    })
}
