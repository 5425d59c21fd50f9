//! The course 511 answer, computed here independently of `jim_protocol::course_login` so that
//! the referee does not share an implementation with the server it judges (PROTOCOL.md
//! §course-login): `base64(HMAC-MD5(key = hex(PBKDF2-HMAC-SHA512(password, lowercase name,
//! 10000)), msg = challenge))`.

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};

/// The answer a course client sends to `challenge` (without Python's trailing newline).
pub fn answer(user: &str, password: &str, challenge: &str) -> String {
    answer_with_key(&password_key(user, password), challenge)
}

/// The account's key: `hex(PBKDF2-HMAC-SHA512(password, lowercase name, 10000))`, what a
/// course server stores. Costly (10000 rounds): compute it once per account.
pub fn password_key(user: &str, password: &str) -> String {
    let mut derived = [0u8; 64];
    pbkdf2::pbkdf2_hmac::<sha2::Sha512>(
        password.as_bytes(),
        user.to_lowercase().as_bytes(),
        10_000,
        &mut derived,
    );
    hex::encode(derived)
}

/// The answer to `challenge` from an account's [`password_key`].
pub fn answer_with_key(key: &str, challenge: &str) -> String {
    let digest = match <Hmac<md5::Md5> as KeyInit>::new_from_slice(key.as_bytes()) {
        Ok(mut mac) => {
            mac.update(challenge.as_bytes());
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    };
    base64::engine::general_purpose::STANDARD.encode(digest)
}

#[cfg(test)]
mod tests {
    #[test]
    fn matches_the_spec_vectors() {
        assert_eq!(super::answer("Alice", "secret", &"0".repeat(128)), "fNQN8KWKQNB9JJBlnWDyOg==");
        assert_eq!(
            super::answer("Guest", "пароль", &"0123456789abcdef".repeat(8)),
            "q7ctGupklhl+auoK5MKB7g=="
        );
    }
}
