# Athena reads S3 Tables through the Glue federated catalog `s3tablescatalog`, created once per account and
# region by enabling "Integration with AWS analytics services" on the table bucket (console or
# `aws glue create-catalog`, see README.md): Terraform has no resource for it yet.

data "aws_caller_identity" "current" {}

locals {
  # "s3tablescatalog/<bucket>"."<namespace>" — the database reference every named query uses.
  db = "\"s3tablescatalog/${var.table_bucket_name}\".\"${var.namespace}\""
}

resource "aws_s3_bucket" "results" {
  bucket = "${var.name_prefix}-athena-results-${data.aws_caller_identity.current.account_id}"
  tags   = var.tags
}

resource "aws_s3_bucket_public_access_block" "results" {
  bucket                  = aws_s3_bucket.results.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "results" {
  bucket = aws_s3_bucket.results.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.kms_key_arn == null ? "AES256" : "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "results" {
  bucket = aws_s3_bucket.results.id
  rule {
    id     = "expire-results"
    status = "Enabled"
    filter {}
    expiration {
      days = var.results_expiration_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

resource "aws_athena_workgroup" "this" {
  name          = var.name_prefix
  description   = "CryptoFlow market data (Iceberg tables in S3 Tables)."
  force_destroy = false

  configuration {
    enforce_workgroup_configuration    = true
    publish_cloudwatch_metrics_enabled = true
    bytes_scanned_cutoff_per_query     = var.bytes_scanned_cutoff_per_query

    engine_version {
      selected_engine_version = "Athena engine version 3"
    }

    result_configuration {
      output_location = "s3://${aws_s3_bucket.results.bucket}/results/"
      encryption_configuration {
        encryption_option = var.kms_key_arn == null ? "SSE_S3" : "SSE_KMS"
        kms_key_arn       = var.kms_key_arn
      }
    }
  }

  tags = var.tags
}

locals {
  queries = {
    trades_per_hour = {
      description = "Trade rows and symbols per venue per hour over the last day: a hole shows as a dip."
      sql         = <<-SQL
        SELECT exchange, date_trunc('hour', exchange_ts) AS hour, count(*) AS trades, count(DISTINCT symbol) AS symbols
        FROM ${local.db}.trades
        WHERE exchange_ts >= current_timestamp - INTERVAL '1' DAY
        GROUP BY 1, 2
        ORDER BY 1, 2
      SQL
    }
    trade_id_gaps = {
      description = "Aggregate trade ids that skip (Binance `a` is consecutive per symbol): rows a collector missed in the last 6 hours."
      sql         = <<-SQL
        SELECT exchange, symbol, prev_id, trade_id, trade_id - prev_id - 1 AS missing, exchange_ts
        FROM (
          SELECT exchange, symbol, trade_id, exchange_ts,
                 lag(trade_id) OVER (PARTITION BY exchange, symbol ORDER BY trade_id) AS prev_id
          FROM ${local.db}.trades
          WHERE exchange_ts >= current_timestamp - INTERVAL '6' HOUR
        )
        WHERE prev_id IS NOT NULL AND trade_id <> prev_id + 1
        ORDER BY missing DESC
        LIMIT 100
      SQL
    }
    duplicate_trades = {
      description = "Trades present more than once by natural key (exchange, symbol, trade_id) in the last day: must be empty."
      sql         = <<-SQL
        SELECT exchange, symbol, trade_id, count(*) AS copies
        FROM ${local.db}.trades
        WHERE exchange_ts >= current_timestamp - INTERVAL '1' DAY
        GROUP BY 1, 2, 3
        HAVING count(*) > 1
        LIMIT 100
      SQL
    }
    ingest_lag = {
      description = "Receive delay (ingest_ts - exchange_ts) percentiles per stream table over the last hour, in milliseconds."
      sql         = <<-SQL
        SELECT 'trades' AS tbl, exchange,
               approx_percentile(to_unixtime(ingest_ts) - to_unixtime(exchange_ts), 0.5) * 1000 AS p50_ms,
               approx_percentile(to_unixtime(ingest_ts) - to_unixtime(exchange_ts), 0.99) * 1000 AS p99_ms
        FROM ${local.db}.trades
        WHERE exchange_ts >= current_timestamp - INTERVAL '1' HOUR
        GROUP BY 1, 2
        UNION ALL
        SELECT 'spot_delta', exchange,
               approx_percentile(to_unixtime(ingest_ts) - to_unixtime(exchange_ts), 0.5) * 1000,
               approx_percentile(to_unixtime(ingest_ts) - to_unixtime(exchange_ts), 0.99) * 1000
        FROM ${local.db}.spot_delta
        WHERE exchange_ts >= current_timestamp - INTERVAL '1' HOUR AND NOT is_snapshot
        GROUP BY 1, 2
      SQL
    }
    book_top_of_book = {
      description = "Best bid/ask from the spot top-N snapshots for one symbol over the last 10 minutes (edit the symbol)."
      sql         = <<-SQL
        SELECT snapshot_ts,
               max(CASE WHEN side = 'bid' AND level = 0 THEN price END) AS best_bid,
               max(CASE WHEN side = 'ask' AND level = 0 THEN price END) AS best_ask
        FROM ${local.db}.spot_ob
        WHERE symbol = 'BTCUSDT' AND snapshot_kind = 'top'
          AND exchange_ts >= current_timestamp - INTERVAL '10' MINUTE
        GROUP BY snapshot_ts
        ORDER BY snapshot_ts
      SQL
    }
    delta_continuity = {
      description = "USD-M diffs whose prev_update_id does not chain to the previous row's last_update_id (a gap the collector must have resynced from): last 6 hours."
      sql         = <<-SQL
        SELECT symbol, exchange_ts, prev_update_id, prior_last
        FROM (
          SELECT symbol, exchange_ts, prev_update_id, is_snapshot,
                 lag(last_update_id) OVER (PARTITION BY symbol ORDER BY last_update_id, is_snapshot DESC) AS prior_last
          FROM (SELECT DISTINCT symbol, exchange_ts, last_update_id, prev_update_id, is_snapshot
                FROM ${local.db}.futures_delta
                WHERE exchange_ts >= current_timestamp - INTERVAL '6' HOUR)
        )
        WHERE NOT is_snapshot AND prior_last IS NOT NULL AND prev_update_id <> prior_last
        ORDER BY exchange_ts
        LIMIT 100
      SQL
    }
    latest_funding = {
      description = "Latest mark price and funding rate per USD-M symbol."
      sql         = <<-SQL
        SELECT symbol, max_by(mark_price, exchange_ts) AS mark_price, max_by(funding_rate, exchange_ts) AS funding_rate,
               max(exchange_ts) AS at
        FROM ${local.db}.funding
        WHERE exchange_ts >= current_timestamp - INTERVAL '10' MINUTE
        GROUP BY symbol
        ORDER BY symbol
      SQL
    }
    liquidations_last_day = {
      description = "Liquidation notional per symbol and side over the last day."
      sql         = <<-SQL
        SELECT symbol, side, count(*) AS orders, sum(filled_qty * avg_price) AS notional
        FROM ${local.db}.liquidations
        WHERE exchange_ts >= current_timestamp - INTERVAL '1' DAY
        GROUP BY 1, 2
        ORDER BY notional DESC
      SQL
    }
  }
}

resource "aws_athena_named_query" "this" {
  for_each = local.queries

  name        = "${var.name_prefix}-${each.key}"
  description = each.value.description
  workgroup   = aws_athena_workgroup.this.id
  database    = var.namespace
  query       = each.value.sql
}
