# One Elastic IP per private egress address: the venue sees a stable public address per shard pool slot,
# which can be allow-listed and rotated one at a time (docs/operations/rotate-ips.md).

resource "aws_eip" "this" {
  for_each = var.egress_ips

  domain                    = "vpc"
  network_interface         = each.value.eni_id
  associate_with_private_ip = each.value.private_ip
  tags                      = merge(var.tags, { Name = "${var.name_prefix}-${each.key}" })
}
