//! One conformance suite that every integration runs against a real server:
//! PostgreSQL (127.0.0.1:5432), MySQL on MariaDB (127.0.0.1:3306),
//! Redshift's dialect over PostgreSQL's wire protocol, custom integrations.
//! Each database integration runs it a second time through the connector
//! protocol (`remote.rs`), as a remote integration does.
//! aws-account runs the same contract against moto in `sesame-aws`'s
//! `tests/conformance.rs`, so no dev-dependency makes a crate cycle.

// Tests may unwrap and panic: a failure is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod attacks;
mod custom;
mod scope;
mod remote;
mod scram;
mod targets;
mod webhook;

use sesame_core::Timestamp;
use sesame_integrations::Integration;
use sesame_proto::ActionParams;
use targets::Target;

const UNTIL: Timestamp = Timestamp(4_102_444_800_000); // 2100-01-01

fn params(_t: &Target, user: &str, rtype: &str, id: &str, perm: &str) -> ActionParams {
    attacks::grant(user, rtype, id, perm)
}

async fn suite(t: Target) {
    let i: &dyn Integration = t.integration.as_ref();
    let st = i.get_status().await.unwrap();
    assert!(st.healthy, "{}: {}", t.name, st.message);

    // list-resources: the tables, hostile names included, and permissions.
    let d = i.list_resources().await.unwrap();
    for id in [&t.table, &t.other_table, &t.hostile_table] {
        assert!(d.resources.iter().any(|r| &r.id == id && r.resource_type == "table"), "{}: {id} not discovered", t.name);
    }
    assert!(d.permissions["table"].iter().any(|p| p.id == "read_only"));

    let user = format!("{}a_g1", t.prefix);
    let p = params(&t, &user, "table", &t.table, "read_only");
    i.grant_access(&p, UNTIL).await.unwrap();
    i.grant_access(&p, UNTIL).await.expect("grant again is a no-op");
    assert_eq!(i.list_managed_users().await.unwrap(), vec![user.clone()]);

    let c1 = i.create_credentials(&p).await.unwrap();
    assert!(c1.connect_command.as_deref().unwrap_or_default().contains(&user));
    let mut conn = t.login(&user, &c1.secret).await.expect("the grantee logs in");
    t.exec(&mut conn, &t.select(&t.table)).await.expect("read_only may SELECT");
    assert!(t.exec(&mut conn, &t.insert(&t.table)).await.is_err(), "{}: read_only must not INSERT", t.name);
    assert!(t.exec(&mut conn, &t.select(&t.other_table)).await.is_err(), "{}: other tables are denied", t.name);
    drop(conn);

    // reset-credentials: the old password fails, the new one works.
    let c2 = i.reset_credentials(&p).await.unwrap();
    assert_ne!(c1.secret, c2.secret);
    assert!(t.password_works(&user, &c2.secret).await, "{}: new password", t.name);
    assert!(!t.password_works(&user, &c1.secret).await, "{}: the old password still works", t.name);

    // revoke, twice; the login fails afterwards.
    let mut conn = t.login(&user, &c2.secret).await.unwrap();
    i.revoke_access(&p).await.unwrap();
    i.revoke_access(&p).await.expect("revoke again succeeds");
    assert!(t.exec(&mut conn, "SELECT 1").await.is_err(), "{}: the live session survived", t.name);
    assert!(t.login(&user, &c2.secret).await.is_err(), "{}: login after revoke", t.name);
    assert!(i.list_managed_users().await.unwrap().is_empty());
    let gone = i.create_credentials(&p).await.expect_err("no credentials for a revoked grant");
    if t.kind == targets::Kind::Mysql {
        // MariaDB's 1396 (SQLSTATE HY000) is read by its number: the login is gone, retrying cannot help.
        assert!(matches!(gone, sesame_integrations::IntegrationError::Invalid(_)), "{}: {gone:?}", t.name);
    }

    // Hostile names stay inside their quotes.
    let user2 = format!("{}b_g2", t.prefix);
    let p2 = params(&t, &user2, "table", &t.hostile_table, "read_only");
    i.grant_access(&p2, UNTIL).await.unwrap();
    let c = i.create_credentials(&p2).await.unwrap();
    let mut conn = t.login(&user2, &c.secret).await.unwrap();
    t.exec(&mut conn, &t.select(&t.hostile_table)).await.expect("SELECT on the hostile table");
    drop(conn);
    i.revoke_access(&p2).await.unwrap();

    // grant-with-credentials: the login is made with the password it shows,
    // in the grant; again (an earlier attempt made the login), a new one.
    let user4 = format!("{}d_g4", t.prefix);
    let p4 = params(&t, &user4, "table", &t.hostile_table, "read_only");
    let c = i.grant_with_credentials(&p4, UNTIL).await.unwrap();
    assert!(c.connect_command.as_deref().unwrap_or_default().contains(&user4));
    let mut conn = t.login(&user4, &c.secret).await.expect("the grantee logs in with what the grant made");
    t.exec(&mut conn, &t.select(&t.hostile_table)).await.expect("read_only may SELECT");
    assert!(t.exec(&mut conn, &t.insert(&t.hostile_table)).await.is_err(), "{}: read_only must not INSERT", t.name);
    assert!(t.exec(&mut conn, &t.select(&t.other_table)).await.is_err(), "{}: other tables are denied", t.name);
    drop(conn);
    assert_eq!(i.list_managed_users().await.unwrap(), vec![user4.clone()], "{}: marked as Sesame's", t.name);
    let again = i.grant_with_credentials(&p4, UNTIL).await.unwrap();
    assert!(t.password_works(&user4, &again.secret).await, "{}: the second grant's password", t.name);
    assert!(!t.password_works(&user4, &c.secret).await, "{}: the first password still works", t.name);
    i.revoke_access(&p4).await.unwrap();
    assert!(t.login(&user4, &again.secret).await.is_err(), "{}: login after revoke", t.name);
    assert!(t.canary_intact().await, "{}: a hostile name escaped its quotes", t.name);

    // User cleanup: disable keeps the login but it can do nothing; delete removes it.
    let user3 = format!("{}c_g3", t.prefix);
    let p3 = params(&t, &user3, "table", &t.table, "read_write");
    i.grant_access(&p3, UNTIL).await.unwrap();
    let c = i.create_credentials(&p3).await.unwrap();
    i.disable_user(&p3).await.unwrap();
    i.disable_user(&p3).await.expect("disable again succeeds");
    assert_eq!(i.list_managed_users().await.unwrap(), vec![user3.clone()], "disabled, not deleted");
    assert!(!t.can_read(&user3, &c.secret).await, "{}: a disabled login still reads", t.name);
    i.delete_user(&user3).await.unwrap();
    i.delete_user(&user3).await.expect("delete again succeeds");
    assert!(i.list_managed_users().await.unwrap().is_empty());

    // Bad input is refused without retrying.
    let bad = params(&t, &user, "table", &t.table, "superuser");
    assert!(!i.grant_access(&bad, UNTIL).await.unwrap_err().is_retryable());
    let bad = params(&t, &user, "table", "no/such/thing/at/all", "read_only");
    assert!(i.grant_access(&bad, UNTIL).await.is_err());
    let _ = i.revoke_access(&bad).await;
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgresql() {
    suite(targets::postgres().await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mysql_on_mariadb() {
    suite(targets::mysql().await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn redshift_dialect_over_postgresql() {
    suite(targets::redshift().await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgresql_through_the_connector_protocol() {
    suite(remote::remote(targets::postgres().await)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mysql_on_mariadb_through_the_connector_protocol() {
    suite(remote::remote(targets::mysql().await)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn redshift_dialect_through_the_connector_protocol() {
    suite(remote::remote(targets::redshift().await)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mysql_status_names_the_missing_privileges() {
    targets::mysql_limited_account_status().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgresql_ssl_modes() {
    targets::postgres_ssl_modes().await;
}
