//! The app's own credentials, kept in one Secrets Manager secret and read on the first request
//! that needs them (`Settings::app`).
//! The partner's system user token is not here: it has its own secret.

use secrecy::SecretString;
use serde::Deserialize;

/// The app secret JSON of DESIGN section 3.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppSecrets {
    pub app_secret: SecretString,
    pub webhook_verify_token: SecretString,
}

impl std::fmt::Debug for AppSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AppSecrets(..)")
    }
}
