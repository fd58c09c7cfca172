//! `tilefn-serve`: serves a tile store over HTTP (see the crate README).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use tilefn_server::{ServerOptions, serve};

/// Serve raster tiles from a tilefn store (the same routes as the Cloudflare Worker).
#[derive(Debug, Parser)]
#[command(name = "tilefn-serve", version)]
struct Args {
    /// Store URL: file:///dir, ./dir, s3://bucket/prefix or http(s)://host/prefix.
    #[arg(long, default_value = "file://./data/store")]
    store: String,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Cache-Control max-age of tiles, in seconds.
    #[arg(long, default_value_t = 3600)]
    max_age: u32,
    /// Access-Control-Allow-Origin of every response.
    #[arg(long, default_value = "*")]
    cors_origin: String,
    /// Serve this directory's static files at `/` (e.g. the demo page).
    #[arg(long)]
    www: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let options = ServerOptions {
        store: args.store,
        max_age: args.max_age,
        cors_origin: args.cors_origin,
        www: args.www,
    };
    let listener = match tokio::net::TcpListener::bind(args.addr).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("tilefn-serve: cannot listen on {}: {err}", args.addr);
            return ExitCode::FAILURE;
        }
    };
    eprintln!("tilefn-serve: listening on http://{}", args.addr);
    match serve(listener, &options).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("tilefn-serve: {err}");
            ExitCode::FAILURE
        }
    }
}
