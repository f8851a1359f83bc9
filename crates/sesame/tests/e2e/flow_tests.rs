//! Access flows beyond who and what: a timeframe refuses a request outside
//! its window and names the next one, through the CLI, dry run included.

use crate::harness::{s, Harness, Opts};
use chrono::{Duration, Timelike, Utc};
use sesame_core::resource_id::join;

#[tokio::test(flavor = "multi_thread")]
async fn a_flow_outside_its_timeframe_refuses_with_the_next_window() {
    // A window that opens two hours from now (on any day) and lasts an hour,
    // so now is outside it whatever the time of the run.
    #[expect(clippy::disallowed_methods, reason = "the test stands outside the system and reads the clock the server reads")]
    let now = Utc::now();
    let opens = (now + Duration::hours(2)).with_minute(0).and_then(|t| t.with_second(0)).and_then(|t| t.with_nanosecond(0)).unwrap();
    let closes = opens + Duration::hours(1);
    let hhmm = |t: chrono::DateTime<Utc>| t.format("%H:%M").to_string();
    let flows = format!(
        r#"
[[access_flows]]
name = "later-today"
kind = "automatic"
integration = "local-pg"
requesters = {{ users = ["outsider@example.com"] }}
permissions = ["read_only"]
max_duration = "1h"
timeframe = {{ days_of_week = [], start_time = "{}", end_time = "{}", time_zone = "UTC" }}

[[access_flows]]
name = "all-day"
kind = "automatic"
integration = "local-pg"
requesters = {{ users = ["outsider@example.com"] }}
permissions = ["read_write"]
max_duration = "1h"
timeframe = {{ days_of_week = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"], start_time = "00:00", end_time = "00:00", time_zone = "Europe/London" }}
"#,
        hhmm(opens),
        hhmm(closes)
    );
    let h = Harness::start("CREATE TABLE public.orders (id int);", Opts { extra_flows: flows, ..Default::default() }).await;
    let admin = h.token("admin@example.com");
    let outsider = h.token("outsider@example.com");
    h.sync(&admin);
    let orders = join(&[&h.db, "public", "orders"]);
    let rfc = |t: chrono::DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    for extra in [&["--dry-run"][..], &[]] {
        let mut args = vec!["requests", "create", "--integration", "local-pg", "--resource-type", "table", "--resources", &orders, "--permission", "read_only", "--duration", "30m"];
        args.extend_from_slice(extra);
        let err = h.cli_err(&outsider, &args, "outside_timeframe");
        assert!(err.contains("access flow `later-today` takes requests every day"), "{err}");
        assert!(err.contains(&format!("ask again between {} and {}", rfc(opens), rfc(closes))), "{err}");
    }
    assert!(h.cli(&admin, &["requests", "list", "--scope", "all"]).as_array().unwrap().is_empty(), "a refusal writes nothing");
    // Within its window a flow decides as usual.
    let args = ["requests", "create", "--integration", "local-pg", "--resource-type", "table", "--resources", &orders, "--permission", "read_write", "--duration", "30m", "--dry-run"];
    let v = h.cli(&outsider, &args);
    assert_eq!((s(&v, "status").as_str(), s(&v, "flow").as_str()), ("Granting", "all-day"), "{v}");
    h.finish().await;
}
