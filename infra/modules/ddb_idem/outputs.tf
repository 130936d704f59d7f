output "ledger_table_name" {
  description = "File ledger table (config sink.ledger.table)."
  value       = aws_dynamodb_table.ledger.name
}

output "ledger_table_arn" {
  description = "File ledger table ARN."
  value       = aws_dynamodb_table.ledger.arn
}

output "fleet_table_name" {
  description = "Fleet membership table (config fleet.table)."
  value       = aws_dynamodb_table.fleet.name
}

output "fleet_table_arn" {
  description = "Fleet membership table ARN."
  value       = aws_dynamodb_table.fleet.arn
}
