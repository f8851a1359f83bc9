//! SCRAM-SHA-256 verifiers computed where the integration runs, so the
//! plaintext password never reaches the database server (nor its logs).
//!
//! Iterations: key stretching protects guessable passwords; Sesame's are 32
//! random alphanumerics (190 bits), which no iteration count makes weaker or
//! stronger. The count is configurable (`password_hash_iterations`).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

fn hmac(key: &[u8], msg: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable_hmac());
    m.update(msg);
    m.finalize().into_bytes().to_vec()
}

#[expect(clippy::panic, reason = "HMAC-SHA256 accepts keys of every length")]
fn unreachable_hmac() -> Hmac<Sha256> {
    panic!("HMAC rejected a key")
}

/// `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`, as PostgreSQL stores it.
pub fn verifier(password: &str, salt: &[u8], iterations: u32) -> String {
    let mut salted = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt, iterations, &mut salted);
    let client_key = hmac(&salted, b"Client Key");
    let stored_key = Sha256::digest(&client_key);
    let server_key = hmac(&salted, b"Server Key");
    format!("SCRAM-SHA-256${iterations}:{}${}:{}", B64.encode(salt), B64.encode(stored_key), B64.encode(server_key))
}

/// A verifier with a fresh random salt.
pub fn new_verifier(password: &str, iterations: u32) -> String {
    use rand::RngCore;
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    verifier(password, &salt, iterations)
}

/// Does `password` match a stored verifier? (Tests and diagnostics.)
pub fn matches(password: &str, stored: &str) -> bool {
    let parse = || -> Option<bool> {
        let rest = stored.strip_prefix("SCRAM-SHA-256$")?;
        let (iter_salt, _keys) = rest.split_once('$')?;
        let (iter, salt) = iter_salt.split_once(':')?;
        let salt = B64.decode(salt).ok()?;
        Some(verifier(password, &salt, iter.parse().ok()?) == stored)
    };
    parse().unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_a_known_vector() {
        // Computed independently with Python's hashlib/hmac (RFC 5802/7677).
        let v = verifier("secretpw", b"saltsaltsaltsalt", 4096);
        assert_eq!(
            v,
            "SCRAM-SHA-256$4096:c2FsdHNhbHRzYWx0c2FsdA==$Dc94p5WPWhLsNa+NDf5XkxuYRbjLYLSQh1DH8HHCjhE=:GHORrHvGuMuwWRuprRoBwdRnz0MO2izWmmOLGmt/gjY="
        );
        assert!(matches("secretpw", &v));
        assert!(!matches("secretpx", &v));
        assert_ne!(new_verifier("a", 16), new_verifier("a", 16), "salts are random");
    }
}
