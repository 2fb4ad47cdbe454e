/// `biometric:record` on biometric.records (log-compacted by recordId): an enrolled credential.
public struct BiometricRecord: MessagePayload {
    /// The envelope type.
    public static let messageType = "biometric:record"
    /// The topic it travels on.
    public static let topic = Topics.biometricRecords
    /// Its payload schema.
    public static let schema = "messages/biometric.record.schema.json"

    /// The record.
    public var recordId: String
    /// The user who owns it.
    public var ownerUserId: String
    /// Devices enrolled with it.
    public var deviceIds: [String]
    /// Signature algorithm.
    public var algorithm: SignatureAlgorithm
    /// The enrolled public key.
    public var publicKey: PublicKeyJWK
    /// Whether it may verify.
    public var status: RecordStatus
    /// Roles that may subscribe to it besides its owner.
    public var grantedRoles: [String]

    /// Creates the payload.
    public init(
        recordId: String, ownerUserId: String, deviceIds: [String], algorithm: SignatureAlgorithm = .es256,
        publicKey: PublicKeyJWK, status: RecordStatus, grantedRoles: [String]
    ) {
        self.recordId = recordId
        self.ownerUserId = ownerUserId
        self.deviceIds = deviceIds
        self.algorithm = algorithm
        self.publicKey = publicKey
        self.status = status
        self.grantedRoles = grantedRoles
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case recordId, ownerUserId, deviceIds, algorithm, publicKey, status, grantedRoles
    }

    /// Decodes strictly (unknown fields and explicit nulls are errors) and validates.
    public init(from decoder: any Decoder) throws {
        let c = try StrictContainer<CodingKeys>(decoder)
        self.init(
            recordId: try c.required(.recordId),
            ownerUserId: try c.required(.ownerUserId),
            deviceIds: try c.required(.deviceIds),
            algorithm: try c.required(.algorithm),
            publicKey: try c.required(.publicKey),
            status: try c.required(.status),
            grantedRoles: try c.required(.grantedRoles))
        try validate(at: decoder)
    }

    /// Encodes the fields; absent optionals are omitted.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(recordId, forKey: .recordId)
        try c.encode(ownerUserId, forKey: .ownerUserId)
        try c.encode(deviceIds, forKey: .deviceIds)
        try c.encode(algorithm, forKey: .algorithm)
        try c.encode(publicKey, forKey: .publicKey)
        try c.encode(status, forKey: .status)
        try c.encode(grantedRoles, forKey: .grantedRoles)
    }

    /// Checks bounds, patterns and enums.
    public func validate() throws(MessageError) {
        try Check.id(recordId, "recordId")
        try Check.id(ownerUserId, "ownerUserId")
        try Check.count(deviceIds.count, "deviceIds", max: MessageLimits.maxDeviceIds)
        try Check.each(deviceIds, "deviceIds", Check.id)
        try Check.nested(publicKey, "publicKey")
        try Check.count(grantedRoles.count, "grantedRoles", max: MessageLimits.maxRoles)
        try Check.each(grantedRoles, "grantedRoles", Check.token)
    }
}
