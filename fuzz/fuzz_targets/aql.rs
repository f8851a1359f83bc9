//! AQL arrives from users and from configuration files: any text either
//! parses to a query that prints back to itself, or fails with a position
//! inside the text. Never a panic, never a stack overflow.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sesame_core::aql::Query;

fuzz_target!(|src: &str| {
    match src.parse::<Query>() {
        Ok(q) => assert_eq!(q.to_string().parse::<Query>().ok().as_ref(), Some(&q)),
        Err(e) => assert!(e.line >= 1 && e.line as usize <= src.split('\n').count() && e.column >= 1),
    }
});
