output "instance_ids" {
  description = "ECS container instance ids, by host index."
  value       = aws_instance.host[*].id
}

output "egress_ips" {
  description = "Static key (h<host>-e<eni>-ip<n>) => { host, eni_id, private_ip } for every egress address; keys are known at plan time (modules/eip_attach uses them)."
  value = merge([
    for key, eni in local.enis : {
      for n in range(local.ips_per_eni) :
      "${key}-ip${n}" => {
        host       = eni.host
        eni_id     = aws_network_interface.egress[key].id
        private_ip = tolist(aws_network_interface.egress[key].private_ip_list)[n]
      }
    }
  ]...)
}

output "host_role_name" {
  description = "IAM role of the container instances."
  value       = aws_iam_role.host.name
}
