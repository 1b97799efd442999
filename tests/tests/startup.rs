//! The binary starts on a free port with a fresh database, already loaded with the territory.
#![allow(clippy::unwrap_used)]

use tests::{Options, PgDatabase, SqliteDatabase, TestServer};

#[tokio::test]
async fn a_fresh_start_serves_health_and_readiness() {
    let server = TestServer::start().await;

    let health = server.get("/healthz").await;
    assert_eq!(health.status(), 200);
    let health: serde_json::Value = health.json().await.unwrap();
    assert_eq!(health["status"], "ok");

    let ready = server.get("/readyz").await;
    assert_eq!(ready.status(), 200);
    let ready: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["database"], "ok");
    assert!(ready["catalog"]["offers"].as_u64().unwrap() >= 64, "{ready}");
}

#[tokio::test]
async fn a_fresh_start_on_postgres_serves_the_territory() {
    let Some(pg) = PgDatabase::create().await else { return };
    let server = TestServer::start_with(Options { database_url: Some(pg.url.clone()), ..Default::default() }).await;
    let ready: serde_json::Value = server.get("/readyz").await.json().await.unwrap();
    assert_eq!(ready["status"], "ready", "{ready}");
    let data = server.data("{ communes { code } totems { name } }", serde_json::json!({})).await;
    assert_eq!(data["communes"].as_array().unwrap().len(), 47);
    assert_eq!(data["totems"].as_array().unwrap().len(), 5);
    drop(server);
}

/// Two instances started at the same moment on one empty PostgreSQL database take turns
/// preparing it (an advisory lock): both start, the schema is migrated once and the territory
/// loaded once. Each process is started from a thread of its own, so that neither waits for the
/// other to listen before it is launched.
#[tokio::test]
async fn instances_started_together_on_an_empty_postgres_both_start() {
    use sea_orm::ConnectionTrait;
    let Some(pg) = PgDatabase::create().await else { return };
    let options = Options { database_url: Some(pg.url.clone()), ..Default::default() };
    let launch = |options: Options| {
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(TestServer::start_with(options))
        })
    };
    let (a, b) = (launch(options.clone()), launch(options));
    let servers = [a.join().expect("the first instance started"), b.join().expect("the second instance started")];
    let client = reqwest::Client::new();
    let mut seen = Vec::new();
    for server in &servers {
        let ready: serde_json::Value =
            client.get(format!("{}/readyz", server.url)).send().await.unwrap().json().await.unwrap();
        assert_eq!(ready["status"], "ready", "{ready}");
        seen.push(ready["catalog"]["offers"].clone());
    }
    assert_eq!(seen[0], seen[1], "both serve the same offers");
    let db = pg.connect().await;
    let count = |sql: &'static str| {
        let db = db.clone();
        async move {
            let row = db.query_one_raw(sea_orm::Statement::from_string(db.get_database_backend(), sql)).await.unwrap();
            row.unwrap().try_get::<i64>("", "n").unwrap()
        }
    };
    assert_eq!(count("SELECT count(*) AS n FROM communes").await, 47);
    assert_eq!(count("SELECT count(*) - count(DISTINCT slug) AS n FROM offers").await, 0);
    assert_eq!(count("SELECT count(*) AS n FROM offers WHERE is_totem").await, 5, "the territory was loaded once");
    drop(servers);
    db.close().await.unwrap();
}

#[tokio::test]
async fn unknown_paths_are_404_json() {
    let server = TestServer::start().await;
    let res = server.get("/nowhere").await;
    assert_eq!(res.status(), 404);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "NOT_FOUND");
}

#[cfg(unix)]
#[tokio::test]
async fn sigterm_stops_the_server_cleanly() {
    let mut server = TestServer::start().await;
    let status = std::process::Command::new("kill").args(["-TERM", &server.pid().to_string()]).status().unwrap();
    assert!(status.success());
    assert_eq!(server.wait_exit(std::time::Duration::from_secs(10)), Some(true), "graceful shutdown exits 0");
}

/// Stopped and started again, the server reads its catalog back from the snapshot it wrote, then
/// applies what another process committed while it was down: the restarted server serves it.
#[cfg(unix)]
#[tokio::test]
async fn a_restart_reads_the_catalog_snapshot_back_and_catches_up() {
    let db = SqliteDatabase::create();
    let folder = tempfile::tempdir().unwrap();
    let snapshot = folder.path().join("catalog.snapshot");
    let options = Options {
        database_url: Some(db.url.clone()),
        env: vec![("CATALOG_SNAPSHOT".into(), snapshot.display().to_string())],
        ..Default::default()
    };
    let count = |ready: serde_json::Value| ready["catalog"]["offers"].as_u64().unwrap();
    let mut first = TestServer::start_with(options.clone()).await;
    assert!(first.logged("catalog read and built"), "the first start reads the database");
    let before = count(first.get("/readyz").await.json().await.unwrap());
    let status = std::process::Command::new("kill").args(["-TERM", &first.pid().to_string()]).status().unwrap();
    assert!(status.success());
    assert_eq!(first.wait_exit(std::time::Duration::from_secs(30)), Some(true));
    assert!(snapshot.exists(), "written at start-up or at shutdown");
    // While it is down, an import adds offers.
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/datatourisme");
    let summary = tests::import_datatourisme(&db.url, &[fixtures.as_path()], &[]);
    let second = TestServer::start_with(options).await;
    assert!(second.logged("catalog read back from its snapshot"), "the restart reads the snapshot");
    let after = count(second.get("/readyz").await.json().await.unwrap());
    assert!(after > before, "the imported offers are served after the restart: {before} then {after} ({summary})");
}

/// The server runs without transparent huge pages (they made a large catalog's start-up longer,
/// see BENCHMARKS.md), unless `MIMALLOC_ALLOW_THP` is set to leave them to mimalloc.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn the_server_runs_without_transparent_huge_pages_unless_told() {
    let thp = |pid: u32| {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let line = status.lines().find(|l| l.starts_with("THP_enabled:")).map(str::to_owned);
        line.map(|l| l.split_whitespace().nth(1).unwrap_or_default().to_owned())
    };
    let server = TestServer::start().await;
    let Some(off) = thp(server.pid()) else {
        eprintln!("SKIPPED: this kernel does not report THP_enabled");
        return;
    };
    assert_eq!(off, "0");
    let told = TestServer::start_with(tests::Options {
        env: vec![("MIMALLOC_ALLOW_THP".into(), "1".into())],
        ..Default::default()
    })
    .await;
    assert_eq!(thp(told.pid()).as_deref(), Some("1"));
}
