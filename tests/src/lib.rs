//! The end-to-end test harness: starts the real server on a free port with a fresh database
//! (an SQLite file in a temporary folder, or a new PostgreSQL database), and talks HTTP to it.
//!
//! PostgreSQL and Redis come from `TEST_POSTGRES_URL` and `TEST_REDIS_URL` (defaults: the local
//! services). When one is unreachable, its tests skip with a message, except under `CI=true`,
//! where a missing service fails the run.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::{Value, json};

/// Whether this run is CI, where every service must be there.
pub fn is_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// The PostgreSQL server to create test databases on.
pub fn postgres_admin_url() -> String {
    std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// The Redis server of the tests.
pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// Says why a test skips, or fails it under CI.
pub fn skip_or_fail(what: &str, why: &str) {
    assert!(!is_ci(), "{what} is required under CI=true: {why}");
    eprintln!("SKIPPED: {what} unavailable ({why}); set CI=true to make this a failure");
}

/// The Redis URL when Redis answers `PING`; `None` (after a visible skip) otherwise.
pub async fn redis_or_skip() -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let url = redis_url();
    let addr = url.trim_start_matches("redis://").split('/').next().unwrap_or("127.0.0.1:6379").to_owned();
    let answer = async {
        let mut stream = tokio::net::TcpStream::connect(&addr).await?;
        stream.write_all(b"PING\r\n").await?;
        let mut buf = [0u8; 7];
        stream.read_exact(&mut buf).await?;
        Ok::<_, std::io::Error>(buf)
    };
    match tokio::time::timeout(Duration::from_secs(2), answer).await {
        Ok(Ok(buf)) if &buf == b"+PONG\r\n" => Some(url),
        Ok(Ok(buf)) => {
            skip_or_fail("Redis", &format!("unexpected answer {:?}", String::from_utf8_lossy(&buf)));
            None
        }
        Ok(Err(e)) => {
            skip_or_fail("Redis", &e.to_string());
            None
        }
        Err(_) => {
            skip_or_fail("Redis", "no answer within 2 s");
            None
        }
    }
}

/// A fresh PostgreSQL database, dropped at the end of the test.
pub struct PgDatabase {
    /// URL of the new database.
    pub url: String,
    name: String,
}

impl PgDatabase {
    /// Creates a database with a unique name; `None` (after a visible skip) without PostgreSQL.
    pub async fn create() -> Option<PgDatabase> {
        let admin = match Database::connect(postgres_admin_url()).await {
            Ok(db) => db,
            Err(e) => {
                skip_or_fail("PostgreSQL", &e.to_string());
                return None;
            }
        };
        let name = format!("caph_test_{}", uuid::Uuid::new_v4().simple());
        admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.unwrap();
        admin.close().await.unwrap();
        let base = postgres_admin_url();
        let root = base.rsplit_once('/').map(|(root, _)| root.to_owned()).unwrap();
        Some(PgDatabase { url: format!("{root}/{name}"), name })
    }

    /// Connects to it.
    pub async fn connect(&self) -> DatabaseConnection {
        Database::connect(&self.url).await.unwrap()
    }

    /// `host:port` of its server.
    pub fn server_address(&self) -> String {
        let url = url::Url::parse(&self.url).unwrap();
        format!("{}:{}", url.host_str().unwrap_or("127.0.0.1"), url.port().unwrap_or(5432))
    }

    /// Its URL through another address (a [`TcpProxy`]).
    pub fn url_via(&self, addr: std::net::SocketAddr) -> String {
        let mut url = url::Url::parse(&self.url).unwrap();
        url.set_host(Some(&addr.ip().to_string())).unwrap();
        url.set_port(Some(addr.port())).unwrap();
        url.to_string()
    }
}

/// A TCP relay to a server that can be cut and restored: an outage of that server on demand,
/// seen by the client as its connections dropping and new ones being refused.
pub struct TcpProxy {
    /// The address clients connect to.
    pub addr: std::net::SocketAddr,
    target: String,
    relay: Option<tokio::task::JoinHandle<()>>,
}

impl TcpProxy {
    /// Relays a local address to `target` (`host:port`).
    pub async fn start(target: &str) -> TcpProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        TcpProxy { addr, target: target.to_owned(), relay: Some(Self::relay(listener, target.to_owned())) }
    }

    fn relay(listener: tokio::net::TcpListener, target: String) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            // Dropped with this task: the connections end with it.
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                let target = target.clone();
                connections.spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        })
    }

    /// Drops every connection and refuses new ones.
    pub async fn cut(&mut self) {
        if let Some(relay) = self.relay.take() {
            relay.abort();
            let _ = relay.await;
        }
    }

    /// Accepts connections again, on the same address.
    pub async fn restore(&mut self) {
        let listener = tokio::net::TcpListener::bind(self.addr).await.unwrap();
        self.relay = Some(Self::relay(listener, self.target.clone()));
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Dropping needs async and no open connection: do it on a thread of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                if let Ok(admin) = Database::connect(postgres_admin_url()).await {
                    let _ = admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
                }
            });
        })
        .join();
    }
}

/// A fresh SQLite database in a temporary folder.
pub struct SqliteDatabase {
    /// URL.
    pub url: String,
    _dir: tempfile::TempDir,
}

impl SqliteDatabase {
    /// Creates an empty database file.
    pub fn create() -> SqliteDatabase {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
        SqliteDatabase { url, _dir: dir }
    }

    /// Connects with foreign keys on, as the server does.
    pub async fn connect(&self) -> DatabaseConnection {
        Database::connect(&self.url).await.unwrap()
    }

    /// Connects as the server does (`api::db::connect`): a pool of four connections in WAL mode,
    /// so that the statements of one migration may run on different connections.
    pub async fn connect_pooled(&self) -> DatabaseConnection {
        use sea_orm::ConnectionTrait;
        let mut options = sea_orm::ConnectOptions::new(&self.url);
        options.max_connections(4).min_connections(4).sqlx_logging(false);
        let db = Database::connect(options).await.unwrap();
        db.execute_unprepared("PRAGMA journal_mode = WAL;").await.unwrap();
        db
    }
}

/// The `server` binary of this package, which Cargo builds fresh before running its integration
/// tests: it sits beside the `deps/` folder holding the test executable.
pub fn server_binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    dir.join(format!("server{}", std::env::consts::EXE_SUFFIX))
}

/// How to start a server.
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// Database URL; default: an SQLite file in the server's own temporary folder.
    pub database_url: Option<String>,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
    /// Extra arguments (a subcommand, flags).
    pub args: Vec<String>,
}

/// The first lines of a test server's log kept for [`TestServer::logged`].
const LOG_LINES_KEPT: usize = 10_000;

/// A running server, killed when dropped.
pub struct TestServer {
    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub url: String,
    /// HTTP client.
    pub client: reqwest::Client,
    child: Child,
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

impl TestServer {
    /// Starts a server on a fresh SQLite database.
    pub async fn start() -> TestServer {
        TestServer::start_with(Options::default()).await
    }

    /// Starts a server with options and waits until it listens.
    pub async fn start_with(options: Options) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(server_binary());
        cmd.current_dir(dir.path())
            .env("BIND", "127.0.0.1:0")
            .env("RUST_LOG", "info,sqlx=warn")
            .env_remove("DATABASE_URL")
            .env_remove("REDIS_URL")
            .env_remove("PUBLIC_URL")
            .args(&options.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(url) = &options.database_url {
            cmd.env("DATABASE_URL", url);
        }
        for (k, v) in &options.env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = log.clone();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(mut kept) = kept.lock()
                    && kept.len() < LOG_LINES_KEPT
                {
                    kept.push(line.clone());
                }
                if !sent {
                    if let Some(rest) = line.split("listening on http://").nth(1) {
                        let addr = rest.split_whitespace().next().unwrap_or("").to_owned();
                        let _ = tx.send(Ok(addr));
                        sent = true;
                    } else if line.contains("ERROR") {
                        let _ = tx.send(Err(line.clone()));
                    }
                }
                if std::env::var("TEST_SERVER_LOG").is_ok() {
                    eprintln!("[server] {line}");
                }
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(Ok(addr)) => addr,
            Ok(Err(line)) => {
                let _ = child.kill();
                panic!("the server failed to start: {line}");
            }
            Err(_) => {
                let _ = child.kill();
                panic!("the server did not start within 60 s");
            }
        };
        // The client lets an idle connection go before the server would (it closes them after
        // HEADER_TIMEOUT_SECONDS, 15 s by default), as a well-configured client does.
        let client = reqwest::Client::builder().pool_idle_timeout(Duration::from_secs(5)).build().unwrap();
        TestServer { url: format!("http://{addr}"), client, child, log, _dir: dir }
    }

    /// Whether a line the server has logged so far contains `text`.
    pub fn logged(&self, text: &str) -> bool {
        self.log.lock().unwrap().iter().any(|line| line.contains(text))
    }

    /// The process id (to signal it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the process to end, returning whether it exited successfully.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<bool> {
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status.success());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// `GET` a path.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(format!("{}{path}", self.url)).send().await.unwrap()
    }

    /// Runs a GraphQL query over `POST /graphql` and returns the whole JSON response.
    pub async fn graphql(&self, query: &str, variables: Value) -> Value {
        self.graphql_with(query, variables, &[]).await
    }

    /// Same, with extra headers.
    pub async fn graphql_with(&self, query: &str, variables: Value, headers: &[(&str, &str)]) -> Value {
        let mut req =
            self.client.post(format!("{}/graphql", self.url)).json(&json!({ "query": query, "variables": variables }));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send().await.unwrap().json().await.unwrap()
    }

    /// Runs a query that must succeed and returns its `data`.
    pub async fn data(&self, query: &str, variables: Value) -> Value {
        let body = self.graphql(query, variables).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body}");
        body["data"].clone()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a checker (python3 script under `tests/py`, node script under `tests/js`, or a command)
/// and returns its standard output as JSON; `None` (after a visible skip) when it is not installed.
pub fn run_checker(program: &str, args: &[&str]) -> Option<serde_json::Value> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let (cmd, script): (&str, Option<std::path::PathBuf>) = match program {
        p if p.ends_with(".py") => ("python3", Some(dir.join("py").join(p))),
        p if p.ends_with(".mjs") => ("node", Some(dir.join("js").join(p))),
        p => (p, None),
    };
    let mut command = Command::new(cmd);
    if let Some(s) = &script {
        command.arg(s);
    }
    let out = match command.args(args).output() {
        Ok(out) => out,
        Err(e) => {
            skip_or_fail(program, &format!("{e}; run scripts/install-test-tools.sh"));
            return None;
        }
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() && (stderr.contains("ModuleNotFoundError") || stderr.contains("ERR_MODULE_NOT_FOUND")) {
        skip_or_fail(program, &format!("{stderr}; run scripts/install-test-tools.sh"));
        return None;
    }
    assert!(out.status.success(), "{program} failed: {stderr}");
    Some(serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{program} printed no JSON ({e}): {stderr}")))
}

/// Creates an API key in a database with the real `keys create` command; returns its token.
pub fn create_key(database_url: &str, name: &str, role: &str, owner: Option<&str>) -> String {
    let mut cmd = Command::new(server_binary());
    cmd.env("DATABASE_URL", database_url)
        .env("RUST_LOG", "warn")
        .args(["keys", "create", "--name", name, "--role", role]);
    if let Some(o) = owner {
        cmd.args(["--owner", o]);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "keys create failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Runs `api import datatourisme` on a database with the real binary; returns what it printed
/// (its summary and one line per rejected object), failing the test if the command failed.
pub fn import_datatourisme(database_url: &str, paths: &[&std::path::Path], args: &[&str]) -> String {
    let out = Command::new(server_binary())
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "warn")
        .args(["import", "datatourisme"])
        .args(args)
        .args(paths)
        .output()
        .unwrap();
    assert!(out.status.success(), "import failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

impl TestServer {
    /// Runs a query with an API key.
    pub async fn graphql_as(&self, token: &str, query: &str, variables: Value) -> Value {
        let auth = format!("Bearer {token}");
        self.graphql_with(query, variables, &[("authorization", auth.as_str())]).await
    }
}

/// Resident memory of a process, in bytes (Linux `/proc`).
pub fn resident_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb * 1024
}

/// A GraphQL WebSocket client speaking `graphql-transport-ws`, for tests that send what a
/// well-behaved client library never would.
pub struct WsClient {
    socket: tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
}

impl WsClient {
    /// Connects to `/graphql/ws` without initialising.
    pub async fn connect_raw(server: &TestServer) -> WsClient {
        WsClient::upgrade(server, &[]).await.unwrap()
    }

    /// Connects to `/graphql/ws` with extra upgrade headers, without initialising; the refusal
    /// (e.g. `403`) when the server refuses the upgrade.
    pub async fn upgrade(server: &TestServer, headers: &[(&str, &str)]) -> Result<WsClient, u16> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let url = format!("{}/graphql/ws", server.url.replacen("http", "ws", 1));
        let mut request = url.into_client_request().unwrap();
        request.headers_mut().insert("sec-websocket-protocol", "graphql-transport-ws".parse().unwrap());
        for (k, v) in headers {
            request.headers_mut().insert(
                tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok((socket, _)) => Ok(WsClient { socket }),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => Err(response.status().as_u16()),
            Err(e) => panic!("WebSocket upgrade failed: {e}"),
        }
    }

    /// Connects and initialises (waits for `connection_ack`).
    pub async fn connect(server: &TestServer) -> WsClient {
        WsClient::connect_with(server, &[], json!({})).await
    }

    /// Connects with extra upgrade headers, initialises with a payload (a browser's key goes
    /// there: `{"Authorization": "Bearer …"}`) and waits for `connection_ack`.
    pub async fn connect_with(server: &TestServer, headers: &[(&str, &str)], payload: Value) -> WsClient {
        let mut c = WsClient::upgrade(server, headers).await.unwrap_or_else(|s| panic!("upgrade refused: {s}"));
        c.send_json(json!({ "type": "connection_init", "payload": payload })).await;
        let ack = c.next_json().await.unwrap();
        assert_eq!(ack["type"], "connection_ack", "{ack}");
        c
    }

    /// Sends a text message.
    pub async fn send_text(&mut self, text: String) {
        use futures::SinkExt;
        self.socket.send(tokio_tungstenite::tungstenite::Message::Text(text.into())).await.unwrap();
    }

    /// Sends a JSON message.
    pub async fn send_json(&mut self, v: Value) {
        self.send_text(v.to_string()).await;
    }

    /// Starts an operation.
    pub async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send_json(json!({ "id": id, "type": "subscribe", "payload": { "query": query, "variables": variables } }))
            .await;
    }

    /// The next JSON message (pings answered, nothing else skipped); `None` when the server
    /// closed (with its close code), or after 15 s of silence.
    pub async fn next_json(&mut self) -> Option<Value> {
        self.next_json_or_close().await.ok()
    }

    /// The next JSON message, or the close code (`Err(None)` for a dropped connection).
    pub async fn next_json_or_close(&mut self) -> Result<Value, Option<u16>> {
        self.next_within(Duration::from_secs(15)).await
    }

    /// The next JSON message, or the close code, waiting at most `wait` for it.
    pub async fn next_within(&mut self, wait: Duration) -> Result<Value, Option<u16>> {
        use futures::StreamExt;
        use tokio_tungstenite::tungstenite::Message;
        loop {
            match tokio::time::timeout(wait, self.socket.next()).await {
                Ok(Some(Ok(Message::Text(t)))) => return Ok(serde_json::from_str(&t).unwrap()),
                Ok(Some(Ok(Message::Close(frame)))) => return Err(frame.map(|f| u16::from(f.code))),
                Ok(Some(Ok(_))) => continue,
                Ok(Some(Err(_))) | Ok(None) | Err(_) => return Err(None),
            }
        }
    }

    /// The messages of operation `id` until it completes or fails.
    pub async fn results(&mut self, id: &str) -> Vec<Value> {
        let mut out = Vec::new();
        while let Some(m) = self.next_json().await {
            if m["id"] != id {
                continue;
            }
            let done = m["type"] == "complete" || m["type"] == "error";
            out.push(m);
            if done {
                break;
            }
        }
        out
    }
}

/// Runs one Redis command over a raw connection (RESP) and returns its reply as text: an integer
/// as its digits, a bulk string as itself, nil as an empty string.
pub async fn redis_command(url: &str, args: &[&str]) -> String {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
    let addr = url.trim_start_matches("redis://").split('/').next().unwrap_or("127.0.0.1:6379").to_owned();
    let stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let mut stream = tokio::io::BufReader::new(stream);
    let mut request = format!("*{}\r\n", args.len());
    for a in args {
        request.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    stream.get_mut().write_all(request.as_bytes()).await.unwrap();
    let mut line = String::new();
    stream.read_line(&mut line).await.unwrap();
    let line = line.trim_end().to_owned();
    match line.chars().next() {
        Some('$') => {
            let n: i64 = line[1..].parse().unwrap();
            if n < 0 {
                return String::new();
            }
            let mut buf = vec![0u8; usize::try_from(n).unwrap() + 2];
            stream.read_exact(&mut buf).await.unwrap();
            String::from_utf8_lossy(&buf[..buf.len() - 2]).into_owned()
        }
        _ => line[1..].to_owned(),
    }
}

/// The digest of a catalog rebuilt from a database (what an instance's `/readyz?digest=true`
/// must equal once it has caught up).
pub async fn catalog_digest(url: &str) -> String {
    let db = Database::connect(url).await.unwrap();
    let digest = api::catalog::Catalog::load(&db).await.unwrap().digest();
    db.close().await.unwrap();
    digest
}
