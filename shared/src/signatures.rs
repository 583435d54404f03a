//! Keyed hashes Meta uses: `appsecret_proof` on calls made with a token.

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

fn hmac_sha256(key: &[u8], message: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(message);
    mac
}

/// Lowercase hex HMAC-SHA256 of the access token, keyed with the app secret.
pub fn appsecret_proof(app_secret: &SecretString, access_token: &SecretString) -> String {
    let mac = hmac_sha256(
        app_secret.expose_secret().as_bytes(),
        access_token.expose_secret().as_bytes(),
    );
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proof_matches_a_known_vector() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let proof = appsecret_proof(
            &SecretString::from("Jefe"),
            &SecretString::from("what do ya want for nothing?"),
        );
        assert_eq!(
            proof,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
