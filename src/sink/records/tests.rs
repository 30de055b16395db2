use std::sync::Arc;

use arrow::array::{Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};

use super::keys::RowKeys;
use super::*;
use crate::store::LocalStore;
use crate::telemetry::Delivered;
use crate::transform::TableOutput;

fn batch(ids: Vec<Option<&str>>, payload: Vec<String>) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("user_id", DataType::Utf8, true),
        Field::new("payload", DataType::Utf8, false),
        Field::new("n", DataType::Int64, false),
    ]));
    let n = Int64Array::from_iter_values(0..ids.len() as i64);
    RecordBatch::try_new(
        schema,
        vec![Arc::new(StringArray::from(ids)), Arc::new(StringArray::from(payload)), Arc::new(n)],
    )
    .unwrap()
}

#[test]
fn partition_keys_come_from_the_key_column_with_the_batch_id_where_it_has_no_value() {
    let long = "x".repeat(300);
    let part = batch(vec![Some("alice"), None, Some(""), Some(&long)], vec![String::new(); 4]);
    let keys = RowKeys::new(&part, Some("user_id"), "b1").unwrap();
    assert_eq!(keys.key(0), "alice");
    assert_eq!(keys.key(1), "b1");
    assert_eq!(keys.key(2), "b1");
    assert_eq!(keys.key(3).len(), 16, "a key over 256 characters becomes its digest");
    assert_eq!(keys.key(3), RowKeys::new(&part, Some("user_id"), "b2").unwrap().key(3), "the same value, the same key");
    assert_eq!(RowKeys::new(&part, None, "b1").unwrap().key(2), "b1");
    let err = RowKeys::new(&part, Some("nope"), "b1").err().unwrap();
    assert!(err.contains("`nope`"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_over_the_size_limit_is_set_aside_with_its_table_key_and_error_and_never_sent() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::Local(LocalStore::open(dir.path().to_owned()).unwrap()));
    // A client that is never called: every record here is over the limit.
    let config = aws_sdk_firehose::Config::builder()
        .behavior_version(aws_sdk_firehose::config::BehaviorVersion::latest())
        .region(aws_sdk_firehose::config::Region::new("us-east-1"))
        .endpoint_url("http://127.0.0.1:9")
        .build();
    let service = Service::Firehose { client: aws_sdk_firehose::Client::from_conf(config), stream: "s".into() };
    let counters = Arc::new(DeliveryCounters::default());
    let mut sink = RecordSink::new(
        service,
        Some(vec!["plays".into()]),
        BTreeMap::new(),
        store.clone(),
        counters.clone(),
        Ledger::open(dir.path().join("ledger")).unwrap(),
        CancellationToken::new(),
    );
    let big = "y".repeat(FIREHOSE_MAX_BYTES_PER_RECORD);
    let part = batch(vec![Some("alice")], vec![big]);
    let outputs = vec![
        TableOutput { table: "plays".into(), batches: vec![part.clone()] },
        TableOutput { table: "tracks".into(), batches: vec![part] },
    ];
    let input = SinkBatch { id: "b1".into(), outputs, ..SinkBatch::default() };
    let staged = tokio::task::spawn_blocking(move || {
        sink.write(&input).unwrap();
        sink.prepare()
    })
    .await
    .unwrap();
    assert_eq!(staged.len(), 1);
    assert_eq!(staged[0].key, "_rejected/firehose-s-b1.ndjson");
    store.commit(&staged[0]).unwrap();
    let text = String::from_utf8(store.read(&staged[0].key).unwrap()).unwrap();
    let rejected: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(rejected["table"], "plays");
    assert_eq!(rejected["sink"], "firehose:s");
    assert!(rejected["error"].as_str().unwrap().contains("over the limit of 1024000 bytes"), "{rejected}");
    assert!(rejected["record"].as_str().unwrap().starts_with(r#"{"_table":"plays","_batch_id":"b1""#));
    let report = counters.snapshot();
    assert_eq!(report.0["firehose:s"]["plays"], Delivered { rejected: 1, ..Delivered::default() });
    assert!(!report.0["firehose:s"].contains_key("tracks"), "only the chosen tables");
}
