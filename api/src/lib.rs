//! The tourist-offer API of La Porte du Hainaut: configuration, state, GraphQL, and the HTTP
//! router that serves them. `main.rs` only parses the command line and calls [`run`].

pub mod auth;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod cors;
pub mod db;
pub mod error;
pub mod events;
pub mod extract;
pub mod feeds;
pub mod graphql;
pub mod health;
pub mod http_cache;
pub mod lane;
pub mod lang;
pub mod layers;
pub mod net;
pub mod offers;
pub mod ogc;
pub mod qr;
pub mod server;
pub mod shared;
pub mod state;
pub mod stats;
pub mod tasks;
#[cfg(test)]
mod testing;
pub mod tiles;
pub mod web;

pub use config::{Cli, Command, Config};
pub use server::{router, run};
