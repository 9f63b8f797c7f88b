//! One order: a certificate for one host name, validated by HTTP-01 (or
//! TLS-ALPN-01 when the CA offers only that), answered by this proxy.

use std::time::Duration;

use instant_acme::{
    Account, AuthorizationStatus, ChallengeType, Identifier, NewOrder, OrderStatus, RetryPolicy,
};

use super::challenge::Challenges;

/// What a finished order gives: the PEM chain and the PEM private key.
pub struct Certificate {
    pub chain_pem: String,
    pub key_pem: String,
}

/// Removes the challenge answers an order set up, however it ends.
struct Answers<'a> {
    challenges: &'a Challenges,
    tokens: Vec<String>,
    alpn: Vec<String>,
}

impl Drop for Answers<'_> {
    fn drop(&mut self) {
        for t in &self.tokens {
            self.challenges.remove_http(t);
        }
        for h in &self.alpn {
            self.challenges.remove_alpn(h);
        }
    }
}

/// The error an ACME call gave, in the CA's words.
pub fn acme_error(e: instant_acme::Error) -> String {
    match e {
        instant_acme::Error::Api(p) => {
            let mut s = p.detail.clone().unwrap_or_else(|| "the CA refused".into());
            if let Some(t) = &p.r#type {
                s.push_str(&format!(" ({t})"));
            }
            s
        }
        other => other.to_string(),
    }
}

/// Orders, validates and downloads a certificate for `host`.
pub async fn issue(
    account: &Account,
    host: &str,
    challenges: &Challenges,
    wait: Duration,
    prefer_alpn: bool,
) -> Result<Certificate, String> {
    let ids = [Identifier::Dns(host.to_string())];
    let mut order = account
        .new_order(&NewOrder::new(&ids))
        .await
        .map_err(acme_error)?;
    let mut answers = Answers {
        challenges,
        tokens: Vec::new(),
        alpn: Vec::new(),
    };
    {
        let mut authzs = order.authorizations();
        while let Some(a) = authzs.next().await {
            let mut a = a.map_err(acme_error)?;
            match a.status {
                AuthorizationStatus::Pending => {}
                AuthorizationStatus::Valid => continue,
                other => return Err(format!("the authorization for {host} is {other:?}")),
            }
            let offers = |t: ChallengeType| a.challenges.iter().any(|c| c.r#type == t);
            let kind = if offers(ChallengeType::Http01)
                && !(prefer_alpn && offers(ChallengeType::TlsAlpn01))
            {
                ChallengeType::Http01
            } else if offers(ChallengeType::TlsAlpn01) {
                ChallengeType::TlsAlpn01
            } else {
                return Err(format!(
                    "the CA offers neither http-01 nor tls-alpn-01 for {host}"
                ));
            };
            let Some(mut ch) = a.challenge(kind.clone()) else {
                continue;
            };
            let ka = ch.key_authorization();
            if kind == ChallengeType::Http01 {
                challenges.add_http(&ch.token, ka.as_str());
                answers.tokens.push(ch.token.clone());
            } else {
                challenges.add_alpn(host, ka.digest().as_ref())?;
                answers.alpn.push(host.to_string());
            }
            ch.set_ready().await.map_err(acme_error)?;
        }
    }
    let policy = RetryPolicy::new()
        .initial_delay(Duration::from_millis(250))
        .backoff(1.5)
        .timeout(wait);
    let status = order.poll_ready(&policy).await.map_err(acme_error)?;
    if status != OrderStatus::Ready {
        return Err(why_invalid(&mut order, host).await);
    }
    let key_pem = order.finalize().await.map_err(acme_error)?;
    let chain_pem = order.poll_certificate(&policy).await.map_err(acme_error)?;
    drop(answers);
    Ok(Certificate { chain_pem, key_pem })
}

/// The validation error of an invalid order, from its challenges.
async fn why_invalid(order: &mut instant_acme::Order, host: &str) -> String {
    let mut reasons = Vec::new();
    let mut authzs = order.authorizations();
    while let Some(Ok(a)) = authzs.next().await {
        for c in &a.challenges {
            if let Some(p) = &c.error {
                let mut s = format!("{:?}: ", c.r#type);
                s.push_str(p.detail.as_deref().unwrap_or("failed"));
                if let Some(t) = &p.r#type {
                    s.push_str(&format!(" ({t})"));
                }
                reasons.push(s);
            }
        }
    }
    if reasons.is_empty() {
        format!("the CA did not validate {host}")
    } else {
        format!("the CA could not validate {host}: {}", reasons.join("; "))
    }
}
