env                = "dev"
region             = "ap-northeast-1" # Binance refuses US addresses (HTTP 451)
vpc_id             = "vpc-REPLACE"
host_subnet_id     = "subnet-REPLACE-public"
private_subnet_ids = ["subnet-REPLACE-private-a", "subnet-REPLACE-private-b"]
image_tag          = "REPLACE-with-git-sha"

# Small: one replica per stream, scale to 2; three hosts (max replicas + 1 spare).
host_count            = 3
enis_per_host         = 1
secondary_ips_per_eni = 2
host_instance_type    = "c6in.large"
committer_replicas    = 1
deletion_protection   = false

streams = {
  "ticks"         = { min_replicas = 1, max_replicas = 2, cpu = 1024, memory = 2048, health_port = 9100 }
  "spot-ob"       = { min_replicas = 1, max_replicas = 2, cpu = 1024, memory = 2048, health_port = 9101 }
  "spot-delta"    = { min_replicas = 1, max_replicas = 2, cpu = 1024, memory = 2048, health_port = 9102 }
  "futures-ob"    = { min_replicas = 1, max_replicas = 2, cpu = 1024, memory = 2048, health_port = 9103 }
  "futures-delta" = { min_replicas = 1, max_replicas = 2, cpu = 1024, memory = 2048, health_port = 9104 }
  "liquidations"  = { min_replicas = 1, max_replicas = 1, cpu = 256, memory = 512, health_port = 9105 }
  "funding"       = { min_replicas = 1, max_replicas = 1, cpu = 256, memory = 512, health_port = 9106 }
}
