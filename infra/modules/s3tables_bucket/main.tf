data "aws_caller_identity" "current" {}

resource "aws_s3tables_table_bucket" "this" {
  name = var.name

  # S3 Tables removes files no snapshot references; snapshot expiry and compaction are per table
  # (modules/s3tables_tables).
  maintenance_configuration = {
    iceberg_unreferenced_file_removal = {
      settings = {
        unreferenced_days = var.unreferenced_days
        non_current_days  = var.noncurrent_days
      }
      status = "enabled"
    }
  }

  encryption_configuration = var.kms_key_arn == null ? null : {
    sse_algorithm = "aws:kms"
    kms_key_arn   = var.kms_key_arn
  }
}

data "aws_iam_policy_document" "table_bucket" {
  count = length(var.reader_principal_arns) > 0 ? 1 : 0

  statement {
    sid = "ReadTables"
    principals {
      type        = "AWS"
      identifiers = var.reader_principal_arns
    }
    actions = [
      "s3tables:GetTableBucket",
      "s3tables:GetNamespace",
      "s3tables:ListNamespaces",
      "s3tables:ListTables",
      "s3tables:GetTable",
      "s3tables:GetTableMetadataLocation",
      "s3tables:GetTableData",
    ]
    resources = [
      aws_s3tables_table_bucket.this.arn,
      "${aws_s3tables_table_bucket.this.arn}/table/*",
    ]
  }
}

resource "aws_s3tables_table_bucket_policy" "this" {
  count = length(var.reader_principal_arns) > 0 ? 1 : 0

  table_bucket_arn = aws_s3tables_table_bucket.this.arn
  resource_policy  = data.aws_iam_policy_document.table_bucket[0].json
}

# Landing bucket: collectors upload Parquet data files here (content-derived keys, see libs/sink) and the
# Iceberg snapshots reference them until S3 Tables compaction rewrites them into the table bucket.
resource "aws_s3_bucket" "data" {
  bucket = "${var.name}-data-${data.aws_caller_identity.current.account_id}"
  tags   = var.tags
}

resource "aws_s3_bucket_public_access_block" "data" {
  bucket                  = aws_s3_bucket.data.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "data" {
  bucket = aws_s3_bucket.data.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "data" {
  bucket = aws_s3_bucket.data.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.kms_key_arn == null ? "AES256" : "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = var.kms_key_arn != null
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "data" {
  bucket = aws_s3_bucket.data.id

  # A crashed multipart upload (lib-storage Upload) leaves parts that cost money and are never read.
  rule {
    id     = "abort-incomplete-multipart"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  dynamic "rule" {
    for_each = var.data_expiration_days == null ? [] : [var.data_expiration_days]
    content {
      id     = "expire-landed-files"
      status = "Enabled"
      filter {}
      expiration {
        days = rule.value
      }
    }
  }
}

data "aws_iam_policy_document" "data" {
  statement {
    sid    = "DenyInsecureTransport"
    effect = "Deny"
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.data.arn, "${aws_s3_bucket.data.arn}/*"]
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "data" {
  bucket = aws_s3_bucket.data.id
  policy = data.aws_iam_policy_document.data.json
}
