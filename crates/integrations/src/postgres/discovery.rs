//! list-resources: databases, schemas, tables and roles of the server.

use super::{unavailable, Postgres};
use crate::{Discovery, IntegrationError};
use sesame_core::resource_id;
use sesame_proto::ResourceInfo;
use std::collections::BTreeMap;

fn res(kind: &str, id: String, name: &str, meta: &[(&str, &str)]) -> ResourceInfo {
    ResourceInfo {
        id,
        name: name.to_owned(),
        resource_type: kind.to_owned(),
        metadata: meta.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
    }
}

/// Schemas and tables of one database.
async fn objects_of(pg: &Postgres, db: &str) -> Result<Vec<ResourceInfo>, sqlx::Error> {
    let mut resources = Vec::new();
    let pool = pg.pool(Some(db)).map_err(|e| sqlx::Error::Configuration(e.to_string().into()))?;
    let schemas: Vec<String> = sqlx::query_scalar(
        "SELECT nspname::text FROM pg_namespace WHERE nspname <> 'information_schema' \
         AND left(nspname, 3) <> 'pg_' ORDER BY 1",
    )
    .fetch_all(&pool)
    .await?;
    for s in &schemas {
        resources.push(res("schema", resource_id::join(&[db, s]), s, &[("database", db)]));
    }
    let tables: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT n.nspname::text, c.relname::text, c.relkind::text FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND n.nspname <> 'information_schema' \
         AND left(n.nspname, 3) <> 'pg_' ORDER BY 1, 2",
    )
    .fetch_all(&pool)
    .await?;
    for (s, t, kind) in &tables {
        let kind = if kind == "v" || kind == "m" { "view" } else { "table" };
        resources.push(res("table", resource_id::join(&[db, s, t]), t, &[("database", db), ("schema", s), ("kind", kind)]));
    }
    Ok(resources)
}

pub(super) async fn discover(pg: &Postgres) -> Result<Discovery, IntegrationError> {
    let admin = pg.pool(None)?;
    let mut dbs: Vec<String> =
        sqlx::query_scalar("SELECT datname::text FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY 1")
            .fetch_all(&admin)
            .await
            .map_err(unavailable)?;
    if !pg.cfg.databases.is_empty() {
        dbs.retain(|d| pg.cfg.databases.contains(d));
    }
    let mut resources = Vec::new();
    for db in &dbs {
        match objects_of(pg, db).await {
            Ok(mut objs) => {
                resources.push(res("database", resource_id::join(&[db]), db, &[]));
                resources.append(&mut objs);
            }
            // Dropped between the listing and now: it is simply gone.
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("3D000") => {
                tracing::debug!(database = %db, "database vanished during discovery");
            }
            // Being dropped now (DROP DATABASE … WITH (FORCE) ends its sessions):
            // gone too, if it is no longer listed; any other failure stands.
            Err(e) => {
                // The drop ends sessions before it removes the database: give it a moment.
                let terminated = matches!(&e, sqlx::Error::Database(d) if d.code().as_deref() == Some("57P01"));
                let mut gone = false;
                for _ in 0..if terminated { 20 } else { 1 } {
                    gone = !sqlx::query_scalar::<_, bool>("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                        .bind(db)
                        .fetch_one(&admin)
                        .await
                        .map_err(unavailable)?;
                    if gone {
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                if !gone {
                    return Err(unavailable(e));
                }
                tracing::debug!(database = %db, error = %e, "database dropped during discovery");
            }
        }
    }
    let roles: Vec<String> = sqlx::query_scalar(
        "SELECT rolname::text FROM pg_roles WHERE NOT rolsuper AND NOT rolcreaterole AND NOT rolbypassrls \
         AND NOT rolreplication AND left(rolname, 3) <> 'pg_' \
         AND left(rolname, length($1)) <> $1 AND rolname <> current_user ORDER BY 1",
    )
    .bind(&pg.cfg.user_prefix)
    .fetch_all(&admin)
    .await
    .map_err(unavailable)?;
    for r in roles.iter().filter(|r| pg.cfg.roles.allows(r)) {
        resources.push(res("role", r.clone(), r, &[]));
    }
    let permissions: BTreeMap<_, _> = pg.descriptor.permission_map();
    Ok(Discovery { resources, permissions, children: vec![] })
}
