//! Whose a secret is: a client business's, or the partner's own.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

use super::ids::ClientBusinessId;

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Owner {
    Client(ClientBusinessId),
    Partner,
}

const PARTNER: &str = "partner";

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Client(id) => f.write_str(id.as_str()),
            Self::Partner => f.write_str(PARTNER),
        }
    }
}

impl Serialize for Owner {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Owner {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        if text == PARTNER {
            return Ok(Self::Partner);
        }
        ClientBusinessId::parse(&text)
            .map(Self::Client)
            .map_err(serde::de::Error::custom)
    }
}
