env                = "prod"
region             = "ap-northeast-1" # close to Binance's matching engines
vpc_id             = "vpc-REPLACE"
host_subnet_id     = "subnet-REPLACE-public"
private_subnet_ids = ["subnet-REPLACE-private-a", "subnet-REPLACE-private-c"]
image_tag          = "REPLACE-with-git-sha"
alarm_emails       = ["oncall@example.com"]

# Book streams are the heavy ones. Each service runs at most one task per host, so host_count bounds
# max_replicas; one spare host lets a rolling deployment start the new task before stopping the old one.
host_count            = 7
enis_per_host         = 3
secondary_ips_per_eni = 9 # 3 ENIs x 10 addresses = 30 source IPs per host
host_instance_type    = "c6in.2xlarge"
committer_replicas    = 2

streams = {
  "ticks"         = { min_replicas = 2, max_replicas = 4, cpu = 2048, memory = 4096, health_port = 9100 }
  "spot-ob"       = { min_replicas = 2, max_replicas = 6, cpu = 2048, memory = 4096, health_port = 9101 }
  "spot-delta"    = { min_replicas = 2, max_replicas = 6, cpu = 2048, memory = 4096, health_port = 9102 }
  "futures-ob"    = { min_replicas = 2, max_replicas = 6, cpu = 2048, memory = 4096, health_port = 9103 }
  "futures-delta" = { min_replicas = 2, max_replicas = 6, cpu = 2048, memory = 4096, health_port = 9104 }
  "liquidations"  = { min_replicas = 1, max_replicas = 2, cpu = 512, memory = 1024, health_port = 9105 }
  "funding"       = { min_replicas = 1, max_replicas = 2, cpu = 512, memory = 1024, health_port = 9106 }
}
