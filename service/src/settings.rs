//! The settings every service has (where it listens, where its store lives, its TOML file)
//! and the flags that override them, shared by `media-relay`, `media-keeper` and
//! `media gateway`. Each service's TOML struct keeps these keys at its top level (as its
//! operators write them) rather than in a flattened shared struct: serde's `flatten` cannot
//! be combined with `deny_unknown_fields`, which every config uses to refuse a misspelled
//! key instead of silently ignoring it.
use anyhow::Context;
use std::net::SocketAddr;
use std::path::PathBuf;

/// A service's TOML configuration, with the settings every service shares.
pub trait ServiceConfig: serde::de::DeserializeOwned + Default {
    /// How errors name the file ("keeper config").
    const WHAT: &'static str;
    fn listen_mut(&mut self) -> &mut SocketAddr;
    fn store_mut(&mut self) -> &mut PathBuf;
}

/// The flags every service takes; flattened into each binary's own (`#[command(flatten)]`).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ServiceFlags {
    /// TOML configuration file; the flags override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// The durable store (redb file).
    #[arg(long)]
    pub store: Option<PathBuf>,
}

impl ServiceFlags {
    /// The configuration: `--config`'s file, else the defaults, with `--listen` and `--store`
    /// applied over it.
    pub fn load<C: ServiceConfig>(&self) -> anyhow::Result<C> {
        let mut config = match &self.config {
            Some(path) => crate::load_config(path, C::WHAT)?,
            None => C::default(),
        };
        if let Some(listen) = self.listen {
            *config.listen_mut() = listen;
        }
        if let Some(store) = &self.store {
            *config.store_mut() = store.clone();
        }
        Ok(config)
    }
}

/// Binds a service's listening socket, naming the address when it cannot.
pub async fn bind(listen: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug, PartialEq)]
    #[serde(deny_unknown_fields, default)]
    struct Demo {
        listen: SocketAddr,
        store: PathBuf,
        other: u32,
    }

    impl Default for Demo {
        fn default() -> Self {
            Demo {
                listen: SocketAddr::from(([127, 0, 0, 1], 1)),
                store: "demo.redb".into(),
                other: 7,
            }
        }
    }

    impl ServiceConfig for Demo {
        const WHAT: &'static str = "demo config";
        fn listen_mut(&mut self) -> &mut SocketAddr {
            &mut self.listen
        }
        fn store_mut(&mut self) -> &mut PathBuf {
            &mut self.store
        }
    }

    #[test]
    fn flags_override_the_file_and_the_file_the_defaults() {
        let stores = crate::TempStores::new("settings").unwrap();
        let file = stores.dir().join("demo.toml");
        std::fs::write(&file, "listen = \"127.0.0.1:2\"\nother = 9\n").unwrap();
        let flags = ServiceFlags {
            config: Some(file.clone()),
            listen: None,
            store: Some("flag.redb".into()),
        };
        let demo: Demo = flags.load().unwrap();
        assert_eq!(demo.listen, SocketAddr::from(([127, 0, 0, 1], 2)));
        assert_eq!(demo.store, PathBuf::from("flag.redb"));
        assert_eq!(demo.other, 9);
        let defaults: Demo = ServiceFlags::default().load().unwrap();
        assert_eq!(defaults, Demo::default());

        std::fs::write(&file, "listne = \"127.0.0.1:2\"\n").unwrap();
        let err = format!("{:#}", flags.load::<Demo>().unwrap_err());
        assert!(
            err.contains("demo config") && err.contains("listne"),
            "{err}"
        );
    }
}
