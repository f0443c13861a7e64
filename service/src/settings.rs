//! The settings every service has — where it listens, its Solana RPC endpoint, its durable
//! store, how often it reads the chain — declared once ([`ServiceSettings`]) and flattened
//! into each service's TOML struct, with the flags that override them ([`ServiceFlags`]),
//! shared by `media-relay`, `media-keeper` and `media gateway`.
//!
//! serde cannot refuse unknown keys (`deny_unknown_fields`) in a struct with a flattened
//! field, and a misspelled key silently falling back to its default is how a limit gets
//! lost. So each config also flattens an [`RefuseUnknownKeys`] last: it receives whatever no field
//! took and refuses the file for it.
use anyhow::Context;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::path::PathBuf;

/// What differs between services in their shared settings: the defaults.
pub trait ServiceDefaults: 'static {
    /// How errors name the service's file ("keeper config").
    const WHAT: &'static str;
    fn listen() -> SocketAddr;
    fn store() -> PathBuf;
    /// The RPC endpoint when the file names none; `None`: the service runs without a chain.
    fn rpc_url() -> Option<String> {
        Some("localhost".into())
    }
    fn chain_refresh_secs() -> u64 {
        5
    }
}

/// The settings every service shares, flattened into its TOML struct (`#[serde(flatten)]`),
/// so the file keeps them at its top level.
#[derive(serde::Deserialize)]
#[serde(bound = "")]
pub struct ServiceSettings<D: ServiceDefaults> {
    #[serde(default = "D::listen")]
    pub listen: SocketAddr,
    /// RPC URL or moniker (localhost, devnet, mainnet-beta).
    #[serde(default = "D::rpc_url")]
    pub rpc_url: Option<String>,
    /// The durable store (redb file).
    #[serde(default = "D::store")]
    pub store: PathBuf,
    /// Seconds between reads of the chain.
    #[serde(default = "D::chain_refresh_secs")]
    pub chain_refresh_secs: u64,
    #[serde(skip)]
    pub defaults: PhantomData<fn() -> D>,
}

impl<D: ServiceDefaults> Default for ServiceSettings<D> {
    fn default() -> Self {
        ServiceSettings {
            listen: D::listen(),
            rpc_url: D::rpc_url(),
            store: D::store(),
            chain_refresh_secs: D::chain_refresh_secs(),
            defaults: PhantomData,
        }
    }
}

impl<D: ServiceDefaults> Clone for ServiceSettings<D> {
    fn clone(&self) -> Self {
        ServiceSettings {
            listen: self.listen,
            rpc_url: self.rpc_url.clone(),
            store: self.store.clone(),
            chain_refresh_secs: self.chain_refresh_secs,
            defaults: PhantomData,
        }
    }
}

impl<D: ServiceDefaults> std::fmt::Debug for ServiceSettings<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceSettings")
            .field("listen", &self.listen)
            .field("rpc_url", &self.rpc_url)
            .field("store", &self.store)
            .field("chain_refresh_secs", &self.chain_refresh_secs)
            .finish()
    }
}

impl<D: ServiceDefaults> ServiceSettings<D> {
    /// The RPC endpoint, for a service that cannot run without one.
    pub fn required_rpc_url(&self) -> anyhow::Result<&str> {
        self.rpc_url
            .as_deref()
            .with_context(|| format!("{}: rpc_url is required", D::WHAT))
    }

    pub fn chain_refresh(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.chain_refresh_secs.max(1))
    }
}

/// Flattened last into a config, it receives the keys no other field took and refuses the
/// file for the first of them: `deny_unknown_fields` for a struct with flattened fields.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RefuseUnknownKeys;

impl<'de> serde::Deserialize<'de> for RefuseUnknownKeys {
    fn deserialize<De: serde::Deserializer<'de>>(deserializer: De) -> Result<Self, De::Error> {
        struct Refuse;
        impl<'de> serde::de::Visitor<'de> for Refuse {
            type Value = RefuseUnknownKeys;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a table")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<RefuseUnknownKeys, A::Error> {
                match map.next_key::<String>()? {
                    Some(key) => Err(serde::de::Error::custom(format!("unknown key `{key}`"))),
                    None => Ok(RefuseUnknownKeys),
                }
            }
        }
        deserializer.deserialize_map(Refuse)
    }
}

/// A service's TOML configuration, with its shared settings.
pub trait ServiceConfig: serde::de::DeserializeOwned + Default {
    type Defaults: ServiceDefaults;
    fn service_mut(&mut self) -> &mut ServiceSettings<Self::Defaults>;

    /// Reads `path` (refusing keys no setting has).
    fn load(path: &std::path::Path) -> anyhow::Result<Self> {
        crate::load_config(path, Self::Defaults::WHAT)
    }
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
            Some(path) => C::load(path)?,
            None => C::default(),
        };
        if let Some(listen) = self.listen {
            config.service_mut().listen = listen;
        }
        if let Some(store) = &self.store {
            config.service_mut().store = store.clone();
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

/// A name a setting gives that becomes a path component of URLs and directories (a live
/// stream's, a rendition's): 1 to 64 ASCII letters, digits, `-` or `_`, so it can never be
/// `..`, hold a separator or need escaping.
pub fn is_path_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    struct DemoDefaults;

    impl ServiceDefaults for DemoDefaults {
        const WHAT: &'static str = "demo config";
        fn listen() -> SocketAddr {
            SocketAddr::from(([127, 0, 0, 1], 1))
        }
        fn store() -> PathBuf {
            "demo.redb".into()
        }
    }

    #[derive(serde::Deserialize, Debug)]
    #[serde(default)]
    struct Demo {
        #[serde(flatten)]
        service: ServiceSettings<DemoDefaults>,
        other: u32,
        nested: Nested,
        #[serde(flatten)]
        _unknown: RefuseUnknownKeys,
    }

    #[derive(serde::Deserialize, Debug, Default)]
    #[serde(default, deny_unknown_fields)]
    struct Nested {
        per_minute: u32,
    }

    impl Default for Demo {
        fn default() -> Self {
            Demo {
                service: ServiceSettings::default(),
                other: 7,
                nested: Nested::default(),
                _unknown: RefuseUnknownKeys,
            }
        }
    }

    impl ServiceConfig for Demo {
        type Defaults = DemoDefaults;
        fn service_mut(&mut self) -> &mut ServiceSettings<DemoDefaults> {
            &mut self.service
        }
    }

    #[test]
    fn flags_override_the_file_and_the_file_the_defaults() {
        let stores = crate::TempStores::new("settings").unwrap();
        let file = stores.dir().join("demo.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:2\"\nother = 9\nchain_refresh_secs = 3\n[nested]\nper_minute = 4\n",
        )
        .unwrap();
        let flags = ServiceFlags {
            config: Some(file.clone()),
            listen: None,
            store: Some("flag.redb".into()),
        };
        let demo: Demo = flags.load().unwrap();
        assert_eq!(demo.service.listen, SocketAddr::from(([127, 0, 0, 1], 2)));
        assert_eq!(demo.service.store, PathBuf::from("flag.redb"));
        assert_eq!(demo.service.chain_refresh_secs, 3);
        assert_eq!(demo.service.rpc_url.as_deref(), Some("localhost"));
        assert_eq!((demo.other, demo.nested.per_minute), (9, 4));
        let defaults: Demo = ServiceFlags::default().load().unwrap();
        assert_eq!(defaults.service.listen, DemoDefaults::listen());
        assert_eq!(defaults.other, 7);
    }

    /// A misspelled key is refused, at the top level (shared or own setting) and in a table.
    #[test]
    fn unknown_keys_are_refused_wherever_they_are() {
        let stores = crate::TempStores::new("settings").unwrap();
        let file = stores.dir().join("demo.toml");
        let flags = ServiceFlags {
            config: Some(file.clone()),
            ..ServiceFlags::default()
        };
        for (text, key) in [
            ("listne = \"127.0.0.1:2\"\n", "listne"),
            ("othr = 1\nother = 2\n", "othr"),
            ("[nested]\nper_minut = 4\n", "per_minut"),
        ] {
            std::fs::write(&file, text).unwrap();
            let err = format!("{:#}", flags.load::<Demo>().unwrap_err());
            assert!(
                err.contains("demo config") && err.contains(key),
                "{text}: {err}"
            );
        }
    }
}
