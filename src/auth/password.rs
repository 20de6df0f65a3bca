//! Argon2id passcode hashes: making one (`stompede hash-password`) and
//! checking a passcode against one. Checking is deliberately slow (tens of
//! milliseconds), so it runs on the blocking pool through [`super::Verifier`].

use std::io::{Read, Write};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use thiserror::Error;

/// Why `hash-password` could not print a hash.
#[derive(Debug, Error)]
pub enum HashError {
    #[error("cannot read the passcode from standard input: {0}")]
    Read(std::io::Error),
    #[error("cannot write the hash: {0}")]
    Write(std::io::Error),
    #[error("the passcode is empty")]
    Empty,
    #[error("hashing failed: {0}")]
    Hash(argon2::password_hash::Error),
}

/// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`) for `passcode`, with a fresh salt.
pub fn hash(passcode: &str) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(passcode.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(HashError::Hash)
}

/// Whether `phc` is a hash this broker can check (at configuration load).
pub fn is_valid(phc: &str) -> Result<(), String> {
    let parsed = PasswordHash::new(phc).map_err(|e| e.to_string())?;
    if parsed.algorithm.as_str() != "argon2id" {
        return Err(format!(
            "algorithm '{}' is not argon2id",
            parsed.algorithm.as_str()
        ));
    }
    Ok(())
}

/// Whether `passcode` hashes to `phc` (slow: call off the actor threads).
pub fn verify(phc: &str, passcode: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(passcode.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// `stompede hash-password`: reads a passcode from `input` (one trailing
/// newline is not part of it) and writes its hash and a newline to `output`.
pub fn hash_password(mut input: impl Read, mut output: impl Write) -> Result<(), HashError> {
    let mut text = String::new();
    input.read_to_string(&mut text).map_err(HashError::Read)?;
    let passcode = text
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(&text);
    if passcode.is_empty() {
        return Err(HashError::Empty);
    }
    let phc = hash(passcode)?;
    writeln!(output, "{phc}").map_err(HashError::Write)
}

/// The `stompede hash-password` subcommand on standard input and output;
/// failures go to standard error with exit status 2.
pub fn hash_password_command() -> std::process::ExitCode {
    match hash_password(std::io::stdin().lock(), std::io::stdout().lock()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("stompede hash-password: {e}");
            std::process::ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_passcode_only() {
        let mut out = Vec::new();
        hash_password(&b"s3cret\n"[..], &mut out).expect("hash");
        let phc = String::from_utf8(out).expect("utf8");
        let phc = phc.trim_end();
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert_eq!(is_valid(phc), Ok(()));
        assert!(verify(phc, "s3cret"));
        assert!(!verify(phc, "s3cret\n"));
        assert!(!verify(phc, "S3cret"));
    }

    #[test]
    fn empty_input_and_bad_hashes_are_refused() {
        assert!(matches!(
            hash_password(&b"\n"[..], Vec::new()),
            Err(HashError::Empty)
        ));
        assert!(is_valid("plain").is_err());
        assert!(is_valid("$argon2i$v=19$m=16,t=2,p=1$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAA").is_err());
        assert!(!verify("garbage", "x"));
    }
}
