# docker buildx bake -f deploy/docker/docker-bake.hcl [--push] (REGISTRY=<account>.dkr.ecr.<region>.amazonaws.com TAG=<git sha>)
# One target per app under apps/ (test/infra checks the list).

variable "REGISTRY" {
  default = "cryptoflow"
}

variable "TAG" {
  default = "dev"
}

group "default" {
  targets = ["collector-ticks", "collector-liquidations", "collector-funding", "collector-spot-ob", "collector-spot-delta", "collector-futures-ob", "collector-futures-delta", "committer", "replayer"]
}

target "_base" {
  context    = "."
  dockerfile = "deploy/docker/Dockerfile"
  target     = "runtime"
  platforms  = ["linux/amd64"]
}

target "collector-ticks" {
  inherits = ["_base"]
  args     = { APP = "collector-ticks" }
  tags     = ["${REGISTRY}/cryptoflow/collector-ticks:${TAG}"]
}

target "collector-liquidations" {
  inherits = ["_base"]
  args     = { APP = "collector-liquidations" }
  tags     = ["${REGISTRY}/cryptoflow/collector-liquidations:${TAG}"]
}

target "collector-funding" {
  inherits = ["_base"]
  args     = { APP = "collector-funding" }
  tags     = ["${REGISTRY}/cryptoflow/collector-funding:${TAG}"]
}

target "collector-spot-ob" {
  inherits = ["_base"]
  args     = { APP = "collector-spot-ob" }
  tags     = ["${REGISTRY}/cryptoflow/collector-spot-ob:${TAG}"]
}

target "collector-spot-delta" {
  inherits = ["_base"]
  args     = { APP = "collector-spot-delta" }
  tags     = ["${REGISTRY}/cryptoflow/collector-spot-delta:${TAG}"]
}

target "collector-futures-ob" {
  inherits = ["_base"]
  args     = { APP = "collector-futures-ob" }
  tags     = ["${REGISTRY}/cryptoflow/collector-futures-ob:${TAG}"]
}

target "collector-futures-delta" {
  inherits = ["_base"]
  args     = { APP = "collector-futures-delta" }
  tags     = ["${REGISTRY}/cryptoflow/collector-futures-delta:${TAG}"]
}

target "committer" {
  inherits = ["_base"]
  args     = { APP = "committer" }
  tags     = ["${REGISTRY}/cryptoflow/committer:${TAG}"]
}

target "replayer" {
  inherits = ["_base"]
  args     = { APP = "replayer" }
  tags     = ["${REGISTRY}/cryptoflow/replayer:${TAG}"]
}
