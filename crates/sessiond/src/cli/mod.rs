//! Command-line interface.

mod login;
mod output;
mod serve;
mod session;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use sessiond_client::Client;

pub(crate) use output::Out;

/// Session management: the sessiond service and its command-line client.
#[derive(Debug, Parser)]
#[command(name = "sessiond", version, about, propagate_version = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP service (SuperTokens CDI 5.4 + /sessiond/v1).
    Serve(Box<serve::ServeArgs>),
    /// Create, verify, refresh, inspect and revoke sessions.
    Session {
        #[command(flatten)]
        conn: Conn,
        #[command(subcommand)]
        command: session::SessionCmd,
    },
    /// List, rotate or reset the signing keys.
    Keys {
        #[command(flatten)]
        conn: Conn,
        #[command(subcommand)]
        command: session::KeysCmd,
    },
    /// Create or verify service tokens.
    Token {
        #[command(flatten)]
        conn: Conn,
        #[command(subcommand)]
        command: session::TokenCmd,
    },
    /// Create a session for a user and keep its tokens in the token file.
    Login {
        #[command(flatten)]
        conn: Conn,
        /// The user.
        #[arg(long)]
        user: String,
        #[command(flatten)]
        token_file: login::TokenFileArg,
    },
    /// Show the token file's session, refreshing it (and rewriting the file) when expired.
    Whoami {
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        token_file: login::TokenFileArg,
    },
    /// Print a new cookie key (32 random bytes, base64url) for stateless cookie sessions.
    CookieKey,
    /// Revoke the token file's session on the server and delete the file.
    Logout {
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        token_file: login::TokenFileArg,
    },
}

/// How to reach the server.
#[derive(Debug, Args)]
pub(crate) struct Conn {
    /// Server URL.
    #[arg(long, env = "SESSIOND_URL", default_value = "http://127.0.0.1:3567", global = true)]
    url: String,
    /// API key, when the server requires one.
    #[arg(long, env = "SESSIOND_API_KEY", hide_env_values = true, global = true)]
    pub(crate) api_key: Option<String>,
    /// Print the API's JSON objects instead of human-readable text.
    #[arg(long, global = true)]
    json: bool,
}

impl Conn {
    pub(crate) fn client(&self) -> Result<Client, String> {
        Client::new(&self.url, self.api_key.as_deref()).map_err(|e| e.to_string())
    }

    pub(crate) fn out(&self) -> Out {
        Out { json: self.json }
    }
}

/// Runs a command; every failure is a message on stderr and exit code 1.
pub(crate) async fn run(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::Serve(args) => serve::run(*args).await,
        Command::Session { conn, command } => session::run(&conn, command).await,
        Command::Keys { conn, command } => session::run_keys(&conn, command).await,
        Command::Token { conn, command } => session::run_token(&conn, command).await,
        Command::Login { conn, user, token_file } => login::login(&conn, user, &token_file).await,
        Command::Whoami { conn, token_file } => login::whoami(&conn, &token_file).await,
        Command::Logout { conn, token_file } => login::logout(&conn, &token_file).await,
        Command::CookieKey => sessiond_cookie::CookieKey::generate()
            .map(|k| println!("{}", k.to_base64url()))
            .map_err(|e| e.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
