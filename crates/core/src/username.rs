//! Login names derived from people: sanitised, length-limited, unique per grant.

/// The name of the login created for one grant: `prefix` + the sanitised local
/// part of the e-mail + `_` + the grant's suffix, never longer than `max_bytes`
/// (63 for PostgreSQL, 32 for MySQL). Only `[a-z0-9_]` survive, so the result
/// needs no quoting anywhere (it is quoted anyway).
pub fn derive_username(prefix: &str, email: &str, grant_id: &str, max_bytes: usize) -> String {
    let local = email.split('@').next().unwrap_or_default();
    let mut clean = String::new();
    for c in local.chars().flat_map(char::to_lowercase) {
        let c = if c.is_ascii_lowercase() || c.is_ascii_digit() { c } else { '_' };
        if !(c == '_' && (clean.is_empty() || clean.ends_with('_'))) {
            clean.push(c);
        }
    }
    let clean = clean.trim_end_matches('_');
    let suffix: String = grant_id.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()).collect();
    let suffix = &suffix[suffix.len().saturating_sub(10)..];
    let fixed = prefix.len() + 1 + suffix.len();
    let room = max_bytes.saturating_sub(fixed).min(24);
    let local: String = clean.chars().take(room).collect();
    let local = local.trim_end_matches('_');
    let mut out = String::with_capacity(max_bytes);
    out.push_str(prefix);
    if !local.is_empty() {
        out.push_str(local);
        out.push('_');
    }
    out.push_str(suffix);
    // Cut at a character boundary: a byte index inside a character panics.
    let mut end = out.len().min(max_bytes);
    while !out.is_char_boundary(end) {
        end -= 1;
    }
    out.truncate(end);
    out
}

/// Is `prefix` usable as a login-name prefix (`[a-z][a-z0-9_]*`, at most 20 bytes)?
pub fn valid_prefix(prefix: &str) -> bool {
    let mut chars = prefix.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && prefix.len() <= 20
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_emails_become_plain_names() {
        assert_eq!(derive_username("sesame_", "o'brien+ops@x.io", "req_AB12cd34ef", 63), "sesame_o_brien_ops_ab12cd34ef");
        assert_eq!(derive_username("sesame_", "Zoë.Ünïcode@x.io", "abc", 63), "sesame_zo_n_code_abc");
        assert_eq!(derive_username("sesame_", "'; DROP ROLE x; --@x", "r1", 63), "sesame_drop_role_x_r1");
        assert_eq!(derive_username("sesame_", "+++@x.io", "r1", 63), "sesame_r1");
    }

    #[test]
    fn length_is_limited_and_grant_suffix_kept() {
        let long = format!("{}@x.io", "a".repeat(300));
        for max in [16, 32, 63] {
            let n = derive_username("sesame_", &long, "req_0123456789", max);
            assert!(n.len() <= max, "{n} longer than {max}");
            assert!(n.ends_with("0123456789") || max < 20, "{n}");
        }
        assert_ne!(derive_username("p_", &long, "g1", 63), derive_username("p_", &long, "g2", 63));
    }

    #[test]
    fn non_ascii_input_never_panics() {
        for prefix in ["sesame_", "ünï_", "🚀🚀🚀", ""] {
            for email in ["Zoë@x", "🚀🚀🚀🚀@x", "", "@", "ü"] {
                for max in 0..40 {
                    let n = derive_username(prefix, email, "req_ünï🚀42", max);
                    assert!(n.len() <= max, "{n:?} longer than {max}");
                }
            }
        }
    }

    #[test]
    fn prefixes() {
        assert!(valid_prefix("sesame_"));
        assert!(!valid_prefix("Sesame"));
        assert!(!valid_prefix("1x"));
        assert!(!valid_prefix("a\"b"));
    }
}
