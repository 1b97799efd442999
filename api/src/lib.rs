//! The tourist-offer API of La Porte du Hainaut: configuration, state, GraphQL, and the HTTP
//! router that serves them. `main.rs` only parses the command line and calls [`run`].

pub mod catalog;
pub mod cli;
pub mod config;
pub mod db;
pub mod error;
pub mod graphql;
pub mod health;
pub mod lang;
pub mod offers;
pub mod server;
pub mod state;

pub use config::{Cli, Command, Config};
pub use server::{router, run};
