//! Resource ids are paths of names (`db/schema/table`). Each name is escaped so
//! that any character, `/` included, survives the round trip.

/// Join names into one id, escaping `%` and `/` in each.
pub fn join(parts: &[&str]) -> String {
    parts.iter().map(|p| p.replace('%', "%25").replace('/', "%2F")).collect::<Vec<_>>().join("/")
}

/// Split an id made by [`join`] back into its names.
pub fn split(id: &str) -> Vec<String> {
    id.split('/').map(|p| p.replace("%2F", "/").replace("%2f", "/").replace("%25", "%")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_of_hostile_names() {
        let names = ["app", "we\"ird;sch/ema%2F", "tåble 🚀 ünïcode"];
        let id = join(&names);
        assert_eq!(id.matches('/').count(), 2);
        assert_eq!(split(&id), names);
    }
}
