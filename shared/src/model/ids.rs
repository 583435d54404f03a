//! Identifiers that parse at the edge, so the logic only ever sees valid ones.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::fmt;

use crate::error::Error;

/// The one digit check: 1 to `max_len` ASCII digits.
pub fn is_digits(value: &str, max_len: usize) -> bool {
    !value.is_empty() && value.len() <= max_len && value.bytes().all(|b| b.is_ascii_digit())
}

/// Checks that `value` is a Graph numeric id: 1 to 32 ASCII digits.
fn parse_graph_id(value: &str, what: &str) -> Result<String, Error> {
    if !is_digits(value, 32) {
        return Err(Error::InvalidRequest(format!(
            "{what} must be a numeric Graph id of 1 to 32 digits"
        )));
    }
    Ok(value.to_owned())
}

macro_rules! graph_id {
    ($name:ident, $what:literal) => {
        #[doc = concat!("A ", $what, ": a numeric Graph id kept as a string (ids never become floats).")]
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(value: &str) -> Result<Self, Error> {
                parse_graph_id(value, $what).map(Self)
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = Error;
            fn try_from(value: String) -> Result<Self, Error> {
                Self::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

graph_id!(ClientBusinessId, "client business id");
graph_id!(SystemUserId, "system user id");
graph_id!(AppId, "app id");

/// The partner's own reference for the account a client business belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PartnerRef(String);

impl PartnerRef {
    pub const MAX_LEN: usize = 128;

    pub fn parse(value: &str) -> Result<Self, Error> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || "._:@-".contains(c);
        if value.is_empty() || value.len() > Self::MAX_LEN || !value.chars().all(allowed) {
            return Err(Error::InvalidRequest(format!(
                "partner_ref must be 1 to {} characters of letters, digits and . _ : @ -",
                Self::MAX_LEN
            )));
        }
        Ok(Self(value.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PartnerRef {
    type Error = Error;
    fn try_from(value: String) -> Result<Self, Error> {
        Self::parse(&value)
    }
}

impl From<PartnerRef> for String {
    fn from(r: PartnerRef) -> String {
        r.0
    }
}

/// The single-use OAuth `state` of an onboarding session: 32 random bytes, base64url.
/// It is a bearer credential for one onboarding, so Debug never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionState(String);

impl SessionState {
    const BYTES: usize = 32;
    /// Length of 32 bytes in unpadded base64url.
    pub const LEN: usize = 43;

    pub fn generate() -> Self {
        let mut bytes = [0u8; Self::BYTES];
        rand::rng().fill_bytes(&mut bytes);
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    pub fn parse(value: &str) -> Result<Self, Error> {
        let decoded = (value.len() == Self::LEN)
            .then(|| URL_SAFE_NO_PAD.decode(value).ok())
            .flatten();
        match decoded {
            Some(bytes) if bytes.len() == Self::BYTES => Ok(Self(value.to_owned())),
            _ => Err(Error::InvalidRequest(
                "state is not an onboarding session issued by this service".into(),
            )),
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SessionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionState(..)")
    }
}

/// The longest authorization code accepted; Meta's are a few hundred characters.
pub const MAX_AUTH_CODE_LEN: usize = 2048;

/// An OAuth authorization code: visible ASCII, bounded, and secret from here on.
pub fn parse_auth_code(value: &str) -> Result<secrecy::SecretString, Error> {
    if value.is_empty()
        || value.len() > MAX_AUTH_CODE_LEN
        || !value.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(Error::InvalidRequest(format!(
            "code must be 1 to {MAX_AUTH_CODE_LEN} visible ASCII characters"
        )));
    }
    Ok(secrecy::SecretString::from(value))
}

/// How a client was onboarded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Bisu,
    Obo,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bisu => "bisu",
            Self::Obo => "obo",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_ids_are_digits_only() {
        assert!(ClientBusinessId::parse("1234567890").is_ok());
        for bad in ["", "12a", "-1", "1.5", "１２", &"9".repeat(33), "12 3"] {
            assert!(ClientBusinessId::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn states_round_trip_and_reject_others() {
        let state = SessionState::generate();
        assert_eq!(state.expose().len(), SessionState::LEN);
        assert!(SessionState::parse(state.expose()).is_ok());
        assert_ne!(SessionState::generate().expose(), state.expose());
        for bad in [
            "",
            "short",
            &"A".repeat(44),
            &"*".repeat(43),
            &"A".repeat(1000),
        ] {
            assert!(SessionState::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(!format!("{state:?}").contains(state.expose()));
    }

    #[test]
    fn partner_refs_are_bounded() {
        assert!(PartnerRef::parse("acct-42@shop.example").is_ok());
        for bad in ["", "a b", "<script>", &"x".repeat(129), "tab\t", "é"] {
            assert!(PartnerRef::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
