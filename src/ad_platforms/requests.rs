//! What each platform's API is sent for a change, as plain data: method, URL, headers, body.
//!
//! - Meta Marketing API: `POST /{object-id}` with `status=PAUSED`, `daily_budget` or
//!   `bid_amount` in cents of the account currency (form-encoded).
//! - Google Ads REST: `POST customers/{cid}/campaigns:mutate` (status) and
//!   `customers/{cid}/campaignBudgets:mutate` (amount in micros), with an update mask;
//!   `validateOnly` asks Google to check without changing anything.
//! - TikTok Business API: `POST campaign/status/update/` (`DISABLE`) and
//!   `POST adgroup/budget/update/`; it answers HTTP 200 with a non-zero `code` on error.
//! - ironSource: `PUT /advertisers/v4/multibid` with a bid per country.

use serde_json::json;

use super::{AdPlatform, Change, PlatformSettings};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Post,
    Put,
}

/// One HTTP call. Header values can be secrets: `Debug` shows only their names.
#[derive(Clone, PartialEq)]
pub struct ApiRequest {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub content_type: &'static str,
    pub body: String,
}

impl std::fmt::Debug for ApiRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field(
                "headers",
                &self
                    .headers
                    .iter()
                    .map(|(name, _)| *name)
                    .collect::<Vec<_>>(),
            )
            .field("body", &self.body)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{platform} has no API call for {what}")]
pub struct Unsupported {
    pub platform: AdPlatform,
    pub what: &'static str,
}

/// The call that makes `change` to `object_id` on `platform`.
pub fn request(
    platform: AdPlatform,
    settings: &PlatformSettings,
    object_id: &str,
    change: &Change,
    validate_only: bool,
) -> Result<ApiRequest, Unsupported> {
    let base = settings.base_url.as_str().trim_end_matches('/');
    let bearer = (
        "authorization",
        format!("Bearer {}", settings.token.expose()),
    );
    let unsupported = |what| Unsupported { platform, what };
    match platform {
        AdPlatform::Meta => {
            let field = match change {
                Change::Pause => ("status", "PAUSED".to_string()),
                Change::DailyBudget { usd } => ("daily_budget", cents(*usd)),
                Change::Bid { usd, .. } => ("bid_amount", cents(*usd)),
            };
            if validate_only {
                return Err(unsupported("a validate-only call"));
            }
            let body = url::form_urlencoded::Serializer::new(String::new())
                .append_pair(field.0, &field.1)
                .finish();
            Ok(ApiRequest {
                method: Method::Post,
                url: format!("{base}/{object_id}"),
                headers: vec![bearer],
                content_type: "application/x-www-form-urlencoded",
                body,
            })
        }
        AdPlatform::Google => {
            let customer = settings.customer_id.as_deref().unwrap_or_default();
            let (collection, update, mask) = match change {
                Change::Pause => (
                    "campaigns",
                    json!({
                        "resourceName": format!("customers/{customer}/campaigns/{object_id}"),
                        "status": "PAUSED",
                    }),
                    "status",
                ),
                Change::DailyBudget { usd } => (
                    "campaignBudgets",
                    json!({
                        "resourceName":
                            format!("customers/{customer}/campaignBudgets/{object_id}"),
                        // int64 travels as a string in Google's JSON.
                        "amountMicros": micros(*usd).to_string(),
                    }),
                    "amount_micros",
                ),
                Change::Bid { .. } => return Err(unsupported("a bid change")),
            };
            let mut headers = vec![bearer];
            if let Some(developer) = &settings.account {
                headers.push(("developer-token", developer.expose().to_string()));
            }
            Ok(ApiRequest {
                method: Method::Post,
                url: format!("{base}/customers/{customer}/{collection}:mutate"),
                headers,
                content_type: "application/json",
                body: json!({
                    "operations": [{"update": update, "updateMask": mask}],
                    "validateOnly": validate_only,
                })
                .to_string(),
            })
        }
        AdPlatform::TikTok => {
            let advertiser = settings
                .account
                .as_ref()
                .map(|a| a.expose().to_string())
                .unwrap_or_default();
            let (path, body) = match change {
                Change::Pause => (
                    "campaign/status/update/",
                    json!({
                        "advertiser_id": advertiser,
                        "campaign_ids": [object_id],
                        "operation_status": "DISABLE",
                    }),
                ),
                Change::DailyBudget { usd } => (
                    "adgroup/budget/update/",
                    json!({
                        "advertiser_id": advertiser,
                        "budget": [{"adgroup_id": object_id, "budget": round_cents(*usd)}],
                    }),
                ),
                Change::Bid { .. } => return Err(unsupported("a bid change")),
            };
            if validate_only {
                return Err(unsupported("a validate-only call"));
            }
            Ok(ApiRequest {
                method: Method::Post,
                url: format!("{base}/{path}"),
                headers: vec![("access-token", settings.token.expose().to_string())],
                content_type: "application/json",
                body: body.to_string(),
            })
        }
        AdPlatform::IronSource => match change {
            Change::Bid { usd, country_code } if !validate_only => Ok(ApiRequest {
                method: Method::Put,
                url: format!("{base}/advertisers/v4/multibid"),
                headers: vec![bearer],
                content_type: "application/json",
                body: json!({
                    "campaignId": object_id,
                    "bids": [{"country": country_code, "bid": round_cents(*usd)}],
                })
                .to_string(),
            }),
            Change::Bid { .. } => Err(unsupported("a validate-only call")),
            Change::Pause | Change::DailyBudget { .. } => {
                Err(unsupported("a pause or a budget (it bids per country)"))
            }
        },
    }
}

fn round_cents(usd: f64) -> f64 {
    (usd * 100.0).round() / 100.0
}

/// Meta takes money in the account currency's minor unit.
fn cents(usd: f64) -> String {
    format!("{}", (usd * 100.0).round() as i64)
}

fn micros(usd: f64) -> i64 {
    (round_cents(usd) * 1e6).round() as i64
}

#[cfg(test)]
mod tests {
    use super::super::Secret;
    use super::*;

    fn settings(platform: AdPlatform) -> PlatformSettings {
        PlatformSettings {
            base_url: url::Url::parse("http://127.0.0.1:9/api").unwrap(),
            token: Secret("tok".into()),
            account: match platform {
                AdPlatform::Google => Some(Secret("dev".into())),
                AdPlatform::TikTok => Some(Secret("adv-1".into())),
                _ => None,
            },
            customer_id: (platform == AdPlatform::Google).then(|| "1234567890".into()),
        }
    }

    fn body_json(request: &ApiRequest) -> serde_json::Value {
        serde_json::from_str(&request.body).unwrap()
    }

    #[test]
    fn meta_posts_form_fields_in_cents() {
        let meta = settings(AdPlatform::Meta);
        let pause = request(AdPlatform::Meta, &meta, "120210", &Change::Pause, false).unwrap();
        assert_eq!(pause.url, "http://127.0.0.1:9/api/120210");
        assert_eq!(pause.body, "status=PAUSED");
        let budget = Change::DailyBudget { usd: 612.345 };
        let budget = request(AdPlatform::Meta, &meta, "120210", &budget, false).unwrap();
        assert_eq!(budget.body, "daily_budget=61235");
        assert_eq!(
            budget.headers,
            vec![("authorization", "Bearer tok".to_string())]
        );
        assert!(!format!("{budget:?}").contains("tok\""));
    }

    #[test]
    fn google_mutates_with_an_update_mask_and_can_validate_only() {
        let google = settings(AdPlatform::Google);
        let budget = Change::DailyBudget { usd: 750.0 };
        let call = request(AdPlatform::Google, &google, "42", &budget, true).unwrap();
        assert_eq!(
            call.url,
            "http://127.0.0.1:9/api/customers/1234567890/campaignBudgets:mutate"
        );
        let body = body_json(&call);
        assert_eq!(body["validateOnly"], true);
        assert_eq!(body["operations"][0]["updateMask"], "amount_micros");
        assert_eq!(body["operations"][0]["update"]["amountMicros"], "750000000");
        assert!(
            call.headers
                .contains(&("developer-token", "dev".to_string()))
        );
        let pause = request(AdPlatform::Google, &google, "42", &Change::Pause, false).unwrap();
        assert!(pause.url.ends_with("/campaigns:mutate"));
        assert_eq!(
            body_json(&pause)["operations"][0]["update"]["status"],
            "PAUSED"
        );
    }

    #[test]
    fn tiktok_and_ironsource_calls() {
        let tiktok = settings(AdPlatform::TikTok);
        let pause = request(AdPlatform::TikTok, &tiktok, "c9", &Change::Pause, false).unwrap();
        assert_eq!(pause.url, "http://127.0.0.1:9/api/campaign/status/update/");
        assert_eq!(body_json(&pause)["operation_status"], "DISABLE");
        assert_eq!(body_json(&pause)["advertiser_id"], "adv-1");
        assert_eq!(pause.headers, vec![("access-token", "tok".to_string())]);

        let iron = settings(AdPlatform::IronSource);
        let bid = Change::Bid {
            usd: 2.123,
            country_code: "US".into(),
        };
        let call = request(AdPlatform::IronSource, &iron, "77", &bid, false).unwrap();
        assert_eq!(call.method, Method::Put);
        assert_eq!(call.url, "http://127.0.0.1:9/api/advertisers/v4/multibid");
        assert_eq!(body_json(&call)["bids"][0]["bid"], 2.12);
        assert!(request(AdPlatform::IronSource, &iron, "77", &Change::Pause, false).is_err());
    }
}
