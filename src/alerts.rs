//! Alerts to people: a Slack incoming webhook (`SLACK_WEBHOOK_URL`, a secret).

use std::time::Duration;

/// Posts `text` as one Slack message. The error never names the webhook (it is the secret).
pub async fn post_slack(webhook: &str, text: &str) -> Result<(), reqwest::Error> {
    send(webhook, text)
        .await
        .map_err(reqwest::Error::without_url)
}

async fn send(webhook: &str, text: &str) -> Result<(), reqwest::Error> {
    reqwest::Client::new()
        .post(webhook)
        .header("content-type", "application/json")
        .body(serde_json::json!({ "text": text }).to_string())
        .timeout(Duration::from_secs(10))
        .send()
        .await?
        .error_for_status()?;
    Ok(())
}
