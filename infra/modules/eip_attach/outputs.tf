output "public_ips" {
  description = "Static key => public address."
  value       = { for k, e in aws_eip.this : k => e.public_ip }
}

output "private_to_public" {
  description = "Private egress address (what the collectors bind and label metrics with) => public address (what the venue sees)."
  value       = { for k, e in aws_eip.this : var.egress_ips[k].private_ip => e.public_ip }
}

output "allocation_ids" {
  description = "Static key => EIP allocation id (for rotation)."
  value       = { for k, e in aws_eip.this : k => e.allocation_id }
}
