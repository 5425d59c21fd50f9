//! The course dialect's 511 login (PROTOCOL.md `§course-login`).
//!
//! The server sends 64 random bytes as 128 hex characters; the client answers with
//! `base64(HMAC-MD5(key, challenge))` where `key` is the lowercase hex of
//! `PBKDF2-HMAC-SHA512(password, salt = lowercase user name, 10000 rounds)`. Both the server
//! and the client need this, so it lives in the protocol crate.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use md5::Md5;
use sha2::Sha512;

/// PBKDF2 rounds of the course recipe.
pub const PBKDF2_ROUNDS: u32 = 10_000;

/// The stored form of a password: hex of PBKDF2-HMAC-SHA512 with the lowercase user name as salt.
/// This hex string (its ASCII bytes) is the HMAC key.
pub fn password_key(user: &str, password: &str) -> String {
    let mut out = [0u8; 64];
    let salt = user.to_lowercase();
    pbkdf2::pbkdf2_hmac::<Sha512>(password.as_bytes(), salt.as_bytes(), PBKDF2_ROUNDS, &mut out);
    hex::encode(out)
}

fn digest(key: &str, challenge: &str) -> Vec<u8> {
    // HMAC accepts keys of any length, so this cannot fail; fall back to an empty digest anyway.
    match <Hmac<Md5> as KeyInit>::new_from_slice(key.as_bytes()) {
        Ok(mut mac) => {
            mac.update(challenge.as_bytes());
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

/// The client's answer to `challenge`, given the stored key from [`password_key`]:
/// base64 without the trailing newline Python adds.
pub fn answer_with_key(key: &str, challenge: &str) -> String {
    STANDARD.encode(digest(key, challenge))
}

/// The client's answer to `challenge` for `user` and `password`.
pub fn answer(user: &str, password: &str, challenge: &str) -> String {
    answer_with_key(&password_key(user, password), challenge)
}

/// Checks a client's answer in constant time. Surrounding whitespace (Python's trailing `\n`) is
/// ignored; an answer that is not base64 is wrong.
pub fn verify_with_key(key: &str, challenge: &str, answer: &str) -> bool {
    let Ok(given) = STANDARD.decode(answer.trim()) else {
        return false;
    };
    match <Hmac<Md5> as KeyInit>::new_from_slice(key.as_bytes()) {
        Ok(mut mac) => {
            mac.update(challenge.as_bytes());
            mac.verify_slice(&given).is_ok()
        }
        Err(_) => false,
    }
}

/// True when `bin` looks like a course challenge: 128 hex characters.
pub fn is_challenge(bin: &str) -> bool {
    bin.len() == 128 && bin.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    // Vectors computed with CPython's hashlib/hmac/binascii, as the course code does.
    #[test]
    fn matches_python_vectors() {
        let zeros = "0".repeat(128);
        assert_eq!(answer("Alice", "secret", &zeros), "fNQN8KWKQNB9JJBlnWDyOg==");
        assert!(password_key("Alice", "secret").starts_with("3f00bffa36d84b8dd72b5526be5b8ed1"));
        let ch = "0123456789abcdef".repeat(8);
        assert_eq!(answer("Guest", "пароль", &ch), "q7ctGupklhl+auoK5MKB7g==");
        let key = password_key("Guest", "пароль");
        assert!(verify_with_key(&key, &ch, "q7ctGupklhl+auoK5MKB7g==\n"));
        assert!(!verify_with_key(&key, &ch, "fNQN8KWKQNB9JJBlnWDyOg=="));
        assert!(!verify_with_key(&key, &ch, "not base64!"));
        assert!(is_challenge(&ch) && !is_challenge("abc"));
    }
}
