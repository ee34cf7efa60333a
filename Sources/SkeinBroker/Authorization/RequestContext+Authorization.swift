import SkeinProtocol

extension RequestContext {
    /// Whether this request's connection may do `operation` on the resource; see `Authorizer.authorize`.
    /// Without an authorizer this is one flag read, so unsecured brokers pay nothing on the data path.
    func authorized(
        _ broker: Broker, _ operation: AclOperation, _ type: AclResourceType, _ name: String,
        countDenial: Bool = true
    ) -> Bool {
        let authorizer = broker.authorizer
        guard authorizer.enabled else { return true }
        return authorizer.authorize(
            principal: connection.session.principal, remote: connection.remote, operation, type, name,
            countDenial: countDenial)
    }

    func authorizedOnCluster(_ broker: Broker, _ operation: AclOperation) -> Bool {
        authorized(broker, operation, .cluster, aclClusterResourceName)
    }

    /// KIP-679: `operation` on some resource of `type`.
    func authorizedOnAny(_ broker: Broker, _ operation: AclOperation, _ type: AclResourceType) -> Bool {
        let authorizer = broker.authorizer
        guard authorizer.enabled else { return true }
        return authorizer.authorizeAny(
            principal: connection.session.principal, remote: connection.remote, operation, type)
    }
}
