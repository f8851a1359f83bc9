//! MFA step-up with TOTP (RFC 6238): enrolment, verification, and what a
//! step-up moves on. The shared secret is sealed (AES-256-GCM, bound to its
//! owner's e-mail) under a key only the control plane holds; it is shown
//! once, at enrolment, and never logged.

use crate::clock;
use crate::error::ApiError;
use crate::state::AppState;
use serde_json::json;
use sesame_core::lifecycle::{self, Event, Step};
use sesame_core::{AuditAction, AuditDraft, Outcome, RequestStatus, Timestamp, User};
use sesame_proto::ErrorCode;
use std::time::Duration;
use totp_rs::{Algorithm, TOTP};

/// Seconds per TOTP time step.
pub const STEP_SECS: u64 = 30;
/// Digits of a code.
pub const DIGITS: usize = 6;
/// How long a step-up counts for an approval.
pub const STEP_UP_VALID: Duration = Duration::from_secs(300);
/// Wrong codes allowed before verification waits for [`LOCKOUT`].
pub const MAX_FAILURES: i64 = 5;
pub const LOCKOUT: Duration = Duration::from_secs(300);
const ISSUER: &str = "Sesame";

fn totp(secret: Vec<u8>, account: &str) -> Option<TOTP> {
    TOTP::new(Algorithm::SHA1, DIGITS, 1, STEP_SECS, secret, Some(ISSUER.to_owned()), account.to_owned()).ok()
}

/// The time step a code is good for: the current one or one either side
/// (clock drift), newer than `last_step` (a code counts once).
pub fn accepted_step(t: &TOTP, code: &str, now: Timestamp, last_step: i64) -> Option<i64> {
    let code = code.trim();
    if code.len() != t.digits || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs = u64::try_from(now.0.max(0) / 1000).unwrap_or(0);
    let step = i64::try_from(secs / t.step).unwrap_or(i64::MAX);
    [step - 1, step, step + 1].into_iter().filter(|s| *s > last_step && *s >= 0).find(|s| {
        let at = u64::try_from(*s).unwrap_or(0).saturating_mul(t.step);
        constant_time_eq(t.generate(at).as_bytes(), code.as_bytes())
    })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A new enrolment: the otpauth:// URI (for an authenticator app) and the
/// secret in base32, shown once.
pub struct Enrolment {
    pub uri: String,
    pub secret_base32: String,
}

pub async fn enroll(st: &AppState, who: &User) -> Result<Enrolment, ApiError> {
    use rand::RngCore;
    let now = clock::now();
    let mut secret = vec![0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let t = totp(secret.clone(), &who.email).ok_or_else(|| ApiError::new(ErrorCode::Internal, "cannot make a TOTP factor: see the server log"))?;
    let sealed = st.mfa_key.seal(&who.email, &secret);
    let audit = AuditDraft::new(&who.email, AuditAction::MfaEnroll, None, Outcome::Ok, json!({ "factor": "totp", "digits": DIGITS, "step_secs": STEP_SECS }));
    if !st.store.enroll_mfa(&who.email, &sealed, audit, now).await? {
        return Err(ApiError::new(
            ErrorCode::AlreadyExists,
            "you are enrolled already: step up with `sesame mfa verify CODE`; to start again, an admin resets your factor with `sesame mfa reset EMAIL`",
        ));
    }
    Ok(Enrolment { uri: t.get_url(), secret_base32: t.get_secret_base32() })
}

/// What a good code did.
pub struct SteppedUp {
    pub at: Timestamp,
    /// Requests of the caller that were waiting for this step-up.
    pub moved_on: Vec<String>,
}

/// Check `code` for `who`: a good one confirms the enrolment, records the
/// step-up and moves on the caller's requests waiting in PendingMFA.
pub async fn verify(st: &AppState, who: &User, code: &str) -> Result<SteppedUp, ApiError> {
    let now = clock::now();
    let not_enrolled = || ApiError::new(ErrorCode::MfaNotEnrolled, "you have no MFA factor: enrol with `sesame mfa enroll`, then verify a code from your authenticator");
    let f = st.store.mfa_factor(&who.email).await?.ok_or_else(not_enrolled)?;
    if f.failures >= MAX_FAILURES {
        if let Some(last) = f.failed_at {
            let until = last.plus(LOCKOUT);
            if now < until {
                return Err(ApiError::new(ErrorCode::MfaLocked, format!("too many wrong codes: try again after {}", clock::rfc3339(until))));
            }
        }
    }
    let secret = st.mfa_key.open(&who.email, &f.sealed).ok_or_else(|| {
        tracing::error!(user = %who.email, "an MFA secret does not open with this server's key (another key file?)");
        ApiError::new(ErrorCode::Internal, "your MFA factor cannot be read with this server's key: ask an admin (see the server log)")
    })?;
    let t = totp(secret, &who.email).ok_or_else(not_enrolled)?;
    let Some(step) = accepted_step(&t, code, now, f.last_step) else {
        let audit = AuditDraft::new(&who.email, AuditAction::MfaVerify, None, Outcome::Error, json!({ "failures": f.failures + 1 }));
        st.store.mfa_failed(&who.email, audit, now).await?;
        return Err(ApiError::new(ErrorCode::InvalidMfaCode, "that code is wrong, expired or used already: enter the current code from your authenticator"));
    };
    let audit = AuditDraft::new(&who.email, AuditAction::MfaVerify, None, Outcome::Ok, json!({ "confirmed_enrolment": f.confirmed_at.is_none() }));
    if !st.store.mfa_accepted(&who.email, step, audit, now).await? {
        return Err(ApiError::new(ErrorCode::InvalidMfaCode, "that code was used already: wait for the next one"));
    }
    let moved_on = move_on(st, who, now).await?;
    Ok(SteppedUp { at: now, moved_on })
}

/// The caller's requests waiting in PendingMFA go on: to Granting when
/// their flow approves by itself, to Pending otherwise.
async fn move_on(st: &AppState, who: &User, now: Timestamp) -> Result<Vec<String>, ApiError> {
    let filter = sesame_store::RequestFilter { requester: Some(who.email.clone()), status: Some(RequestStatus::PendingMfa), ..Default::default() };
    let mut moved = Vec::new();
    // The requester's own requests only (the filter also finds those made
    // for them by someone else, whose step-up it is not).
    for r in st.store.list_requests(&filter).await?.into_iter().filter(|r| r.requester.eq_ignore_ascii_case(&who.email)) {
        let policy = st.policy();
        let flow = policy.flows.iter().find(|f| f.name == r.flow);
        let event = Event::SteppedUp {
            by: who.email.clone(),
            // A request that needs approval has parts; one from an automatic flow has none.
            approved: r.approval_parts.is_empty(),
            pending_for: flow.and_then(|f| f.pending_expiry),
            escalate_after: flow.and_then(|f| f.escalation.first()).map(|t| t.after),
        };
        if let Ok(Step::Change(t)) = lifecycle::step(&crate::worker::facts(&r), event, now) {
            if st.store.apply(&t, now).await?.is_ok() {
                st.changed(&r.id);
                moved.push(r.id.clone());
            }
        }
    }
    if !moved.is_empty() {
        st.wake_worker.notify_one();
    }
    Ok(moved)
}

/// Whether `who` stepped up recently enough for an approval at `now`.
pub async fn stepped_up(st: &AppState, who: &User, now: Timestamp) -> Result<bool, ApiError> {
    Ok(st.store.mfa_factor(&who.email).await?.and_then(|f| f.stepped_up_at).is_some_and(|at| now < at.plus(STEP_UP_VALID)))
}

/// An admin removes `user`'s factor (lost device); they enrol again.
pub async fn reset(st: &AppState, admin: &User, user: &str) -> Result<(), ApiError> {
    let audit = AuditDraft::new(&admin.email, AuditAction::MfaReset, None, Outcome::Ok, json!({ "user": user }));
    if !st.store.reset_mfa(user, audit, clock::now()).await? {
        return Err(ApiError::new(ErrorCode::NotFound, format!("`{user}` has no MFA factor: nothing to reset")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    /// RFC 6238, Appendix B: the seeds and times of its table, 8 digits.
    #[test]
    fn codes_match_the_rfc_6238_test_vectors() {
        let sha1 = b"12345678901234567890".to_vec();
        let sha256 = b"12345678901234567890123456789012".to_vec();
        let sha512 = b"1234567890123456789012345678901234567890123456789012345678901234".to_vec();
        let table: [(u64, &str, &str, &str); 6] = [
            (59, "94287082", "46119246", "90693936"),
            (1_111_111_109, "07081804", "68084774", "25091201"),
            (1_111_111_111, "14050471", "67062674", "99943326"),
            (1_234_567_890, "89005924", "91819424", "93441116"),
            (2_000_000_000, "69279037", "90698825", "38618901"),
            (20_000_000_000, "65353130", "77737706", "47863826"),
        ];
        let make = |alg, secret: &Vec<u8>| TOTP::new(alg, 8, 1, 30, secret.clone(), None, "t".into()).unwrap();
        let (a, b, c) = (make(Algorithm::SHA1, &sha1), make(Algorithm::SHA256, &sha256), make(Algorithm::SHA512, &sha512));
        for (t, c1, c256, c512) in table {
            assert_eq!((a.generate(t), b.generate(t), c.generate(t)), (c1.to_owned(), c256.to_owned(), c512.to_owned()), "T = {t}");
            // And our check accepts exactly that code at that time, once.
            let now = Timestamp(i64::try_from(t * 1000).unwrap());
            let step = i64::try_from(t / 30).unwrap();
            assert_eq!(accepted_step(&a, c1, now, 0), Some(step));
            assert_eq!(accepted_step(&a, c1, now, step), None, "a code counts once");
        }
    }

    #[test]
    fn a_code_is_good_for_its_step_and_one_either_side_and_nothing_else() {
        let t = totp(b"0123456789abcdefghij".to_vec(), "ann@x.io").unwrap();
        let now = Timestamp(1_700_000_000_000);
        let step = 1_700_000_000 / 30;
        let code_at = |s: i64| t.generate(u64::try_from(s * 30).unwrap());
        for (s, ok) in [(step - 2, false), (step - 1, true), (step, true), (step + 1, true), (step + 2, false)] {
            assert_eq!(accepted_step(&t, &code_at(s), now, 0).is_some(), ok, "step {}", s - step);
        }
        // An older step than the last used is refused even within the window.
        assert_eq!(accepted_step(&t, &code_at(step - 1), now, step), None);
        for junk in ["", "12345", "1234567", "12345a", "１２３４５６"] {
            assert_eq!(accepted_step(&t, junk, now, 0), None, "{junk}");
        }
    }
}
