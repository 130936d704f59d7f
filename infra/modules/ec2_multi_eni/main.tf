# ECS container instances that carry pools of source addresses. Collectors run with host networking and
# bind each shard's sockets to one of these addresses (libs/egress, `egress.discover: interfaces`), so a
# venue's per-IP limits apply per address, not per host. Amazon Linux 2023's amazon-ec2-net-utils adds the
# per-ENI policy routes that send each source address out of its own ENI.

data "aws_ssm_parameter" "ami" {
  name = var.ami_ssm_parameter
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "host" {
  name               = "${var.name_prefix}-ecs-host"
  description        = "ECS container instance: registers with the cluster, pulls images, SSM Session Manager."
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "ecs" {
  role       = aws_iam_role.host.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"
}

resource "aws_iam_role_policy_attachment" "ssm" {
  role       = aws_iam_role.host.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

resource "aws_iam_instance_profile" "host" {
  name = "${var.name_prefix}-ecs-host"
  role = aws_iam_role.host.name
}

resource "aws_instance" "host" {
  count = var.host_count

  ami                    = data.aws_ssm_parameter.ami.insecure_value
  instance_type          = var.instance_type
  subnet_id              = var.subnet_id
  vpc_security_group_ids = var.security_group_ids
  iam_instance_profile   = aws_iam_instance_profile.host.name

  metadata_options {
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  root_block_device {
    volume_size = var.root_volume_gb
    volume_type = "gp3"
    encrypted   = true
  }

  # ECS_CONTAINER_STOP_TIMEOUT is the agent default; task definitions set stopTimeout (max 120 s) explicitly.
  user_data = <<-EOT
    #!/bin/bash
    cat >> /etc/ecs/ecs.config <<CFG
    ECS_CLUSTER=${var.ecs_cluster_name}
    ECS_CONTAINER_STOP_TIMEOUT=120s
    ECS_ENABLE_CONTAINER_METADATA=true
    CFG
  EOT

  tags = merge(var.tags, { Name = "${var.name_prefix}-host-${count.index}" })

  lifecycle {
    ignore_changes = [ami]
  }
}

locals {
  # Static keys (known at plan time) so EIPs can be created with for_each over addresses unknown until apply.
  enis = {
    for pair in setproduct(range(var.host_count), range(var.enis_per_host)) :
    "h${pair[0]}-e${pair[1]}" => { host = pair[0], index = pair[1] }
  }
  ips_per_eni = 1 + var.secondary_ips_per_eni
}

resource "aws_network_interface" "egress" {
  for_each = local.enis

  subnet_id         = var.subnet_id
  security_groups   = var.security_group_ids
  private_ips_count = var.secondary_ips_per_eni
  description       = "${var.name_prefix} egress pool ${each.key}"
  tags              = merge(var.tags, { Name = "${var.name_prefix}-egress-${each.key}" })
}

resource "aws_network_interface_attachment" "egress" {
  for_each = local.enis

  instance_id          = aws_instance.host[each.value.host].id
  network_interface_id = aws_network_interface.egress[each.key].id
  device_index         = each.value.index + 1
}
