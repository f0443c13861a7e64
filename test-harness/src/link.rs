//! A switchable TCP link for outage tests.
/// A TCP forwarder that can be cut: while down it refuses new connections and drops the
/// open ones. Tests put it between a service and its RPC endpoint, gateway or keeper.
pub struct Link {
    pub url: String,
    up: tokio::sync::watch::Sender<bool>,
}

impl Link {
    pub async fn to(upstream: &str) -> Link {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (up, watch) = tokio::sync::watch::channel(true);
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    continue;
                };
                if !*watch.borrow() {
                    continue;
                }
                let upstream = upstream.clone();
                let mut watch = watch.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(&upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = watch.wait_for(|up| !*up) => {}
                    }
                });
            }
        });
        Link { url, up }
    }

    pub fn set_up(&self, up: bool) {
        self.up.send_replace(up);
    }
}
