//! Resource ids are paths of names (`db/schema/table`). Each name is escaped so
//! that any character survives the round trip, and ids never hold a raw `/`
//! inside a name or a `,` (so lists of ids can be written `a,b`).

/// Join names into one id, escaping `%` and `/` in each.
pub fn join(parts: &[&str]) -> String {
    parts.iter().map(|p| p.replace('%', "%25").replace('/', "%2F").replace(',', "%2C")).collect::<Vec<_>>().join("/")
}

/// Split an id made by [`join`] back into its names.
pub fn split(id: &str) -> Vec<String> {
    id.split('/')
        .map(|p| p.replace("%2F", "/").replace("%2f", "/").replace("%2C", ",").replace("%2c", ",").replace("%25", "%"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_of_hostile_names() {
        let names = ["app", "we\"ird;sch/ema%2F,x", "tåble 🚀 ünïcode"];
        let id = join(&names);
        assert_eq!(id.matches('/').count(), 2);
        assert!(!id.contains(','));
        assert_eq!(split(&id), names);
    }
}
