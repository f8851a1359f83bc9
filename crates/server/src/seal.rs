//! The key that seals MFA secrets in the store: AES-256-GCM, each secret
//! bound to its owner's e-mail, under a key file only the control plane
//! reads (made with mode 0600 on first start; replicas share it).

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use std::path::Path;

/// The key sealing MFA secrets.
pub struct SealKey(Aes256Gcm);

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey(..)")
    }
}

impl SealKey {
    /// Read the key file, or make one (32 random bytes, mode 0600) when
    /// there is none.
    pub fn load_or_create(path: &Path) -> std::io::Result<SealKey> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                use rand::RngCore;
                let mut k = [0u8; 32];
                rand::rngs::OsRng.fill_bytes(&mut k);
                let mut o = std::fs::OpenOptions::new();
                o.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
                match o.open(path) {
                    Ok(mut f) => std::io::Write::write_all(&mut f, &k).map(|()| k.to_vec())?,
                    // Another replica made it first: use theirs.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => std::fs::read(path)?,
                    Err(e) => return Err(e),
                }
            }
            Err(e) => return Err(e),
        };
        let key: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("holds {} bytes; an MFA key is 32 random bytes", bytes.len())))?;
        Ok(SealKey(Aes256Gcm::new(&key.into())))
    }

    /// Seal `secret` for `user`: base64 of nonce and ciphertext.
    pub fn seal(&self, user: &str, secret: &[u8]) -> String {
        use rand::RngCore;
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let aad = user.to_ascii_lowercase();
        // Encryption with a fresh nonce and an in-memory buffer cannot fail.
        let ct = self.0.encrypt(Nonce::from_slice(&nonce), Payload { msg: secret, aad: aad.as_bytes() }).unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend(ct);
        base64::engine::general_purpose::STANDARD.encode(out)
    }

    /// The secret sealed for `user`; `None` when it was sealed for someone
    /// else, under another key, or altered.
    pub fn open(&self, user: &str, sealed: &str) -> Option<Vec<u8>> {
        let raw = base64::engine::general_purpose::STANDARD.decode(sealed).ok()?;
        if raw.len() < 12 {
            return None;
        }
        let (nonce, ct) = raw.split_at(12);
        let aad = user.to_ascii_lowercase();
        self.0.decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad: aad.as_bytes() }).ok()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_for_its_owner_under_its_key() {
        let dir = std::env::temp_dir().join(format!("sesame-mfa-key-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("k");
        let k = SealKey::load_or_create(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600, "the key file is the owner's alone");
        }
        let sealed = k.seal("Ann@x.io", b"secret-bytes");
        assert!(!sealed.contains("secret"), "sealed, not encoded");
        assert_eq!(k.open("ann@x.io", &sealed).unwrap(), b"secret-bytes");
        assert_eq!(k.open("bob@x.io", &sealed), None, "a row copied to another person does not open");
        // The same file gives the same key (a restart, a replica).
        assert_eq!(SealKey::load_or_create(&path).unwrap().open("ann@x.io", &sealed).unwrap(), b"secret-bytes");
        let other = SealKey::load_or_create(&dir.join("k2")).unwrap();
        assert_eq!(other.open("ann@x.io", &sealed), None);
        std::fs::write(dir.join("short"), b"abc").unwrap();
        assert!(SealKey::load_or_create(&dir.join("short")).unwrap_err().to_string().contains("32 random bytes"));
        let _ = std::fs::remove_dir_all(dir);
    }
}
