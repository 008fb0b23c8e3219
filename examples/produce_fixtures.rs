//! Produces the telemetry of a generated studio to a Kafka topic, keyed
//! `game_title:eternal_player_id`, for the demo and the ingest benchmark. Prints how many
//! messages the broker acknowledged; one it refused is reported and not counted.
//!
//! Usage: produce_fixtures STUDIO_DIR TOPIC [BROKERS]

use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use rdkafka::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::message::DeliveryResult;
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, ThreadedProducer};

/// Counts the broker's acknowledgements: a message handed to the producer is not yet stored.
#[derive(Default)]
struct Deliveries {
    acknowledged: AtomicU64,
    failed: AtomicU64,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        let Err((err, _)) = result else {
            self.acknowledged.fetch_add(1, Ordering::Relaxed);
            return;
        };
        if self.failed.fetch_add(1, Ordering::Relaxed) == 0 {
            eprintln!("produce_fixtures: a message was not delivered: {err}");
        }
    }
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let studio = PathBuf::from(
        args.next()
            .context("usage: produce_fixtures STUDIO_DIR TOPIC [BROKERS]")?,
    );
    let topic = args.next().context("missing TOPIC")?;
    let brokers = args.next().unwrap_or_else(|| "127.0.0.1:9092".into());
    let producer: ThreadedProducer<Deliveries> = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        // tansu's SQLite storage does not round-trip snappy.
        .set("compression.type", "lz4")
        .set("linger.ms", "20")
        .set("batch.size", "1000000")
        .set("queue.buffering.max.messages", "1000000")
        .create_with_context(Deliveries::default())?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(studio.join("telemetry"))?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    files.sort();
    for path in files {
        let mut text = String::new();
        let file = std::fs::File::open(&path)?;
        if path.extension().is_some_and(|ext| ext == "gz") {
            flate2::read::GzDecoder::new(file).read_to_string(&mut text)?;
        } else {
            std::io::BufReader::new(file).read_to_string(&mut text)?;
        }
        for line in text.lines().filter(|line| !line.is_empty()) {
            let event: serde_json::Value = serde_json::from_str(line)?;
            let key = format!(
                "{}:{}",
                event["game_title"].as_str().unwrap_or(""),
                event["eternal_player_id"].as_str().unwrap_or("")
            );
            let mut record = BaseRecord::to(&topic).key(&key).payload(line);
            loop {
                match producer.send(record) {
                    Ok(()) => break,
                    Err((_, returned)) => {
                        // The local queue is full: let librdkafka deliver, then retry.
                        std::thread::sleep(Duration::from_millis(5));
                        record = returned;
                    }
                }
            }
        }
    }
    producer.flush(Duration::from_secs(120))?;
    let deliveries = producer.context();
    let failed = deliveries.failed.load(Ordering::Relaxed);
    if failed > 0 {
        eprintln!("produce_fixtures: {failed} messages were not delivered");
    }
    println!("{}", deliveries.acknowledged.load(Ordering::Relaxed));
    Ok(())
}
