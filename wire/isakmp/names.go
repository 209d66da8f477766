package isakmp

import "strconv"

// PayloadType is a Next Payload value (RFC 2408 §3.1; 14 from
// draft-dukes-ike-mode-cfg; 20/21 from RFC 3947; 130/131 from the NAT-T
// drafts).
type PayloadType uint8

// Payload types.
const (
	PayloadNone          PayloadType = 0
	PayloadSA            PayloadType = 1
	PayloadProposal      PayloadType = 2
	PayloadTransform     PayloadType = 3
	PayloadKE            PayloadType = 4
	PayloadID            PayloadType = 5
	PayloadCert          PayloadType = 6
	PayloadCR            PayloadType = 7
	PayloadHash          PayloadType = 8
	PayloadSig           PayloadType = 9
	PayloadNonce         PayloadType = 10
	PayloadNotify        PayloadType = 11
	PayloadDelete        PayloadType = 12
	PayloadVendorID      PayloadType = 13
	PayloadAttr          PayloadType = 14
	PayloadNATD          PayloadType = 20
	PayloadNATOA         PayloadType = 21
	PayloadNATDDraft     PayloadType = 130
	PayloadNATOADraft    PayloadType = 131
	PayloadFragmentCisco PayloadType = 132
)

var payloadNames = map[PayloadType]string{
	PayloadNone: "NONE", PayloadSA: "SA", PayloadProposal: "PROPOSAL", PayloadTransform: "TRANSFORM",
	PayloadKE: "KE", PayloadID: "ID", PayloadCert: "CERT", PayloadCR: "CERT_REQ", PayloadHash: "HASH",
	PayloadSig: "SIG", PayloadNonce: "NONCE", PayloadNotify: "NOTIFY", PayloadDelete: "DELETE",
	PayloadVendorID: "VID", PayloadAttr: "ATTR", PayloadNATD: "NAT-D", PayloadNATOA: "NAT-OA",
	PayloadNATDDraft: "NAT-D(draft)", PayloadNATOADraft: "NAT-OA(draft)", PayloadFragmentCisco: "FRAGMENT",
}

func (t PayloadType) String() string { return name(payloadNames, t, "PAYLOAD") }

// Known reports whether this codec knows the payload type.
func (t PayloadType) Known() bool { _, ok := payloadNames[t]; return ok }

// ExchangeType is the exchange of a message (RFC 2408 §3.1, RFC 2409 §5,
// draft-dukes-ike-mode-cfg for Transaction).
type ExchangeType uint8

// Exchange types.
const (
	ExchangeNone          ExchangeType = 0
	ExchangeBase          ExchangeType = 1
	ExchangeMain          ExchangeType = 2 // Identity Protection
	ExchangeAuthOnly      ExchangeType = 3
	ExchangeAggressive    ExchangeType = 4
	ExchangeInformational ExchangeType = 5
	ExchangeTransaction   ExchangeType = 6 // mode-config / XAuth
	ExchangeQuick         ExchangeType = 32
	ExchangeNewGroup      ExchangeType = 33
)

var exchangeNames = map[ExchangeType]string{
	ExchangeNone: "NONE", ExchangeBase: "BASE", ExchangeMain: "ID_PROT", ExchangeAuthOnly: "AUTH_ONLY",
	ExchangeAggressive: "AGGRESSIVE", ExchangeInformational: "INFORMATIONAL", ExchangeTransaction: "TRANSACTION",
	ExchangeQuick: "QUICK_MODE", ExchangeNewGroup: "NEW_GROUP_MODE",
}

func (t ExchangeType) String() string { return name(exchangeNames, t, "EXCHANGE") }

// DOI values (RFC 2408 §3.4, RFC 2407 §4.2).
const (
	DOIISAKMP = 0
	DOIIPsec  = 1
)

// SituationIdentityOnly is the IPsec DOI situation SIT_IDENTITY_ONLY
// (RFC 2407 §4.2.1).
const SituationIdentityOnly = 1

// ProtocolID is a protocol of a proposal, notification or delete
// (RFC 2407 §4.4.1).
type ProtocolID uint8

// Protocol IDs.
const (
	ProtoISAKMP ProtocolID = 1
	ProtoAH     ProtocolID = 2
	ProtoESP    ProtocolID = 3
	ProtoIPComp ProtocolID = 4
)

var protoNames = map[ProtocolID]string{ProtoISAKMP: "PROTO_ISAKMP", ProtoAH: "PROTO_IPSEC_AH", ProtoESP: "PROTO_IPSEC_ESP", ProtoIPComp: "PROTO_IPCOMP"}

func (p ProtocolID) String() string { return name(protoNames, p, "PROTO") }

// Transform IDs: KEY_IKE for ISAKMP (RFC 2407 §4.4.2), the ESP transforms
// of RFC 2407 §4.4.4 and their later additions (RFC 3602 AES, RFC 4106
// GCM).
const (
	TransformKeyIKE  = 1
	ESP3DES          = 3
	ESPNull          = 11
	ESPAES           = 12
	ESPAESCTR        = 13
	ESPAESGCM8       = 18
	ESPAESGCM12      = 19
	ESPAESGCM16      = 20
	ESPDES           = 2
	ESPNullAuthAESGM = 21
)

var espNames = map[uint8]string{ESPDES: "ESP_DES", ESP3DES: "ESP_3DES", ESPNull: "ESP_NULL", ESPAES: "ESP_AES",
	ESPAESCTR: "ESP_AES_CTR", ESPAESGCM8: "ESP_AES_GCM_8", ESPAESGCM12: "ESP_AES_GCM_12", ESPAESGCM16: "ESP_AES_GCM_16",
	ESPNullAuthAESGM: "ESP_NULL_AUTH_AES_GMAC"}

// ESPTransformName is IOS's debug word for an ESP transform ID.
func ESPTransformName(id uint8) string { return name(espNames, id, "ESP") }

// Phase 1 attribute types (RFC 2409 Appendix A). Basic (TV) unless noted.
const (
	AttrEncryption  = 1
	AttrHash        = 2
	AttrAuthMethod  = 3
	AttrGroupDesc   = 4
	AttrGroupType   = 5
	AttrGroupPrime  = 6 // variable
	AttrGroupGen1   = 7 // variable
	AttrGroupGen2   = 8 // variable
	AttrGroupCurveA = 9 // variable
	AttrGroupCurveB = 10
	AttrLifeType    = 11
	AttrLifeDur     = 12 // variable
	AttrPRF         = 13
	AttrKeyLength   = 14
	AttrFieldSize   = 15
	AttrGroupOrder  = 16 // variable
)

// Phase 1 encryption algorithms (RFC 2409 Appendix A; 7 is AES-CBC, RFC
// 3602 §5.1 / IANA).
const (
	EncDES      = 1
	EncIDEA     = 2
	EncBlowfish = 3
	EncRC5      = 4
	Enc3DES     = 5
	EncCAST     = 6
	EncAES      = 7
)

// Phase 1 hash algorithms (RFC 2409 Appendix A; 4-6 from IANA per RFC
// 4868).
const (
	HashMD5    = 1
	HashSHA1   = 2
	HashTiger  = 3
	HashSHA256 = 4
	HashSHA384 = 5
	HashSHA512 = 6
)

// Phase 1 authentication methods (RFC 2409 Appendix A; 64221+ and 65001+
// from draft-ietf-ipsec-isakmp-hybrid-auth and draft-beaulieu-ike-xauth).
const (
	AuthPSK           = 1
	AuthDSS           = 2
	AuthRSASig        = 3
	AuthRSAEnc        = 4
	AuthRSARevEnc     = 5
	AuthHybridInitRSA = 64221
	AuthHybridRespRSA = 64222
	AuthXAuthInitPSK  = 65001
	AuthXAuthRespPSK  = 65002
	AuthXAuthInitRSA  = 65005
	AuthXAuthRespRSA  = 65006
)

// Life types, phase 1 (RFC 2409 Appendix A) and phase 2 (RFC 2407 §4.5).
const (
	LifeSeconds   = 1
	LifeKilobytes = 2
)

// IPsec DOI (phase 2) attribute types (RFC 2407 §4.5).
const (
	IPsecAttrLifeType  = 1
	IPsecAttrLifeDur   = 2 // variable
	IPsecAttrGroupDesc = 3
	IPsecAttrEncapMode = 4
	IPsecAttrAuthAlg   = 5
	IPsecAttrKeyLength = 6
	IPsecAttrKeyRounds = 7
	IPsecAttrCompDict  = 8
	IPsecAttrCompPriv  = 9 // variable
)

// Encapsulation modes (RFC 2407 §4.5, RFC 3947 §5; 61443/61444 are the
// values of draft-ietf-ipsec-nat-t-ike-00..03 that older peers still send).
const (
	EncapTunnel            = 1
	EncapTransport         = 2
	EncapUDPTunnel         = 3
	EncapUDPTransport      = 4
	EncapUDPTunnelDraft    = 61443
	EncapUDPTransportDraft = 61444
)

// Phase 2 authentication algorithms (RFC 2407 §4.5; 5-7 from RFC 4868).
const (
	AuthAlgHMACMD5    = 1
	AuthAlgHMACSHA1   = 2
	AuthAlgDESMAC     = 3
	AuthAlgKPDK       = 4
	AuthAlgHMACSHA256 = 5
	AuthAlgHMACSHA384 = 6
	AuthAlgHMACSHA512 = 7
)

// IDType is an IPsec DOI identification type (RFC 2407 §4.6.2.1).
type IDType uint8

// ID types.
const (
	IDIPv4Addr       IDType = 1
	IDFQDN           IDType = 2
	IDUserFQDN       IDType = 3
	IDIPv4AddrSubnet IDType = 4
	IDIPv6Addr       IDType = 5
	IDIPv6AddrSubnet IDType = 6
	IDIPv4AddrRange  IDType = 7
	IDIPv6AddrRange  IDType = 8
	IDDERASN1DN      IDType = 9
	IDDERASN1GN      IDType = 10
	IDKeyID          IDType = 11
)

var idNames = map[IDType]string{IDIPv4Addr: "ID_IPV4_ADDR", IDFQDN: "ID_FQDN", IDUserFQDN: "ID_USER_FQDN",
	IDIPv4AddrSubnet: "ID_IPV4_ADDR_SUBNET", IDIPv6Addr: "ID_IPV6_ADDR", IDIPv6AddrSubnet: "ID_IPV6_ADDR_SUBNET",
	IDIPv4AddrRange: "ID_IPV4_ADDR_RANGE", IDIPv6AddrRange: "ID_IPV6_ADDR_RANGE", IDDERASN1DN: "ID_DER_ASN1_DN",
	IDDERASN1GN: "ID_DER_ASN1_GN", IDKeyID: "ID_KEY_ID"}

func (t IDType) String() string { return name(idNames, t, "ID") }

// NotifyType is a notify message type: errors (RFC 2408 §3.14.1), status,
// the IPsec DOI's (RFC 2407 §4.6.3) and DPD's (RFC 3706 §5).
type NotifyType uint16

// Notify message types.
const (
	NotifyInvalidPayloadType      NotifyType = 1
	NotifyDOINotSupported         NotifyType = 2
	NotifySituationNotSupported   NotifyType = 3
	NotifyInvalidCookie           NotifyType = 4
	NotifyInvalidMajorVersion     NotifyType = 5
	NotifyInvalidMinorVersion     NotifyType = 6
	NotifyInvalidExchangeType     NotifyType = 7
	NotifyInvalidFlags            NotifyType = 8
	NotifyInvalidMessageID        NotifyType = 9
	NotifyInvalidProtocolID       NotifyType = 10
	NotifyInvalidSPI              NotifyType = 11
	NotifyInvalidTransformID      NotifyType = 12
	NotifyAttributesNotSupported  NotifyType = 13
	NotifyNoProposalChosen        NotifyType = 14
	NotifyBadProposalSyntax       NotifyType = 15
	NotifyPayloadMalformed        NotifyType = 16
	NotifyInvalidKeyInformation   NotifyType = 17
	NotifyInvalidIDInformation    NotifyType = 18
	NotifyInvalidCertEncoding     NotifyType = 19
	NotifyInvalidCertificate      NotifyType = 20
	NotifyCertTypeUnsupported     NotifyType = 21
	NotifyInvalidCertAuthority    NotifyType = 22
	NotifyInvalidHashInformation  NotifyType = 23
	NotifyAuthenticationFailed    NotifyType = 24
	NotifyInvalidSignature        NotifyType = 25
	NotifyAddressNotification     NotifyType = 26
	NotifySALifetime              NotifyType = 27
	NotifyCertificateUnavailable  NotifyType = 28
	NotifyUnsupportedExchangeType NotifyType = 29
	NotifyUnequalPayloadLengths   NotifyType = 30
	NotifyConnected               NotifyType = 16384
	NotifyResponderLifetime       NotifyType = 24576
	NotifyReplayStatus            NotifyType = 24577
	NotifyInitialContact          NotifyType = 24578
	NotifyRUThere                 NotifyType = 36136
	NotifyRUThereAck              NotifyType = 36137
)

var notifyNames = map[NotifyType]string{
	NotifyInvalidPayloadType: "INVALID_PAYLOAD_TYPE", NotifyDOINotSupported: "DOI_NOT_SUPPORTED",
	NotifySituationNotSupported: "SITUATION_NOT_SUPPORTED", NotifyInvalidCookie: "INVALID_COOKIE",
	NotifyInvalidMajorVersion: "INVALID_MAJOR_VERSION", NotifyInvalidMinorVersion: "INVALID_MINOR_VERSION",
	NotifyInvalidExchangeType: "INVALID_EXCHANGE_TYPE", NotifyInvalidFlags: "INVALID_FLAGS",
	NotifyInvalidMessageID: "INVALID_MESSAGE_ID", NotifyInvalidProtocolID: "INVALID_PROTOCOL_ID",
	NotifyInvalidSPI: "INVALID_SPI", NotifyInvalidTransformID: "INVALID_TRANSFORM_ID",
	NotifyAttributesNotSupported: "ATTRIBUTES_NOT_SUPPORTED", NotifyNoProposalChosen: "PROPOSAL_NOT_CHOSEN",
	NotifyBadProposalSyntax: "BAD_PROPOSAL_SYNTAX", NotifyPayloadMalformed: "PAYLOAD_MALFORMED",
	NotifyInvalidKeyInformation: "INVALID_KEY_INFORMATION", NotifyInvalidIDInformation: "INVALID_ID_INFORMATION",
	NotifyInvalidCertEncoding: "INVALID_CERT_ENCODING", NotifyInvalidCertificate: "INVALID_CERTIFICATE",
	NotifyCertTypeUnsupported: "CERT_TYPE_UNSUPPORTED", NotifyInvalidCertAuthority: "INVALID_CERT_AUTHORITY",
	NotifyInvalidHashInformation: "INVALID_HASH_INFORMATION", NotifyAuthenticationFailed: "AUTHENTICATION_FAILED",
	NotifyInvalidSignature: "INVALID_SIGNATURE", NotifyAddressNotification: "ADDRESS_NOTIFICATION",
	NotifySALifetime: "NOTIFY_SA_LIFETIME", NotifyCertificateUnavailable: "CERTIFICATE_UNAVAILABLE",
	NotifyUnsupportedExchangeType: "UNSUPPORTED_EXCHANGE_TYPE", NotifyUnequalPayloadLengths: "UNEQUAL_PAYLOAD_LENGTHS",
	NotifyConnected: "CONNECTED", NotifyResponderLifetime: "RESPONDER_LIFETIME", NotifyReplayStatus: "REPLAY_STATUS",
	NotifyInitialContact: "INITIAL_CONTACT", NotifyRUThere: "R_U_THERE", NotifyRUThereAck: "R_U_THERE_ACK",
}

// String gives the type's name as IOS's debug prints it (14 is
// PROPOSAL_NOT_CHOSEN there; RFC 2408 calls it NO-PROPOSAL-CHOSEN).
func (t NotifyType) String() string { return name(notifyNames, t, "NOTIFY") }

// IsError reports whether t is in the error range (RFC 2408 §3.14.1).
func (t NotifyType) IsError() bool { return t < 16384 }

// Certificate encodings (RFC 2408 §3.9).
const (
	CertNone          = 0
	CertPKCS7         = 1
	CertPGP           = 2
	CertDNSSigned     = 3
	CertX509Sig       = 4
	CertX509KeyExch   = 5
	CertKerberos      = 6
	CertCRL           = 7
	CertARL           = 8
	CertSPKI          = 9
	CertX509Attribute = 10
)

// CfgType is the message type of an attribute payload
// (draft-dukes-ike-mode-cfg §3.2).
type CfgType uint8

// Mode-config message types.
const (
	CfgRequest CfgType = 1
	CfgReply   CfgType = 2
	CfgSet     CfgType = 3
	CfgAck     CfgType = 4
)

var cfgNames = map[CfgType]string{CfgRequest: "ISAKMP_CFG_REQUEST", CfgReply: "ISAKMP_CFG_REPLY", CfgSet: "ISAKMP_CFG_SET", CfgAck: "ISAKMP_CFG_ACK"}

func (t CfgType) String() string { return name(cfgNames, t, "CFG") }

// Mode-config attribute types (draft-dukes-ike-mode-cfg §3.3), XAuth's
// (draft-beaulieu-ike-xauth §6.2) and Cisco Unity's (28672 and up).
const (
	CfgInternalIP4Address = 1
	CfgInternalIP4Netmask = 2
	CfgInternalIP4DNS     = 3
	CfgInternalIP4NBNS    = 4
	CfgInternalAddrExpiry = 5
	CfgInternalIP4DHCP    = 6
	CfgApplicationVersion = 7
	CfgInternalIP6Address = 8
	CfgInternalIP6Netmask = 9
	CfgInternalIP6DNS     = 10
	CfgInternalIP6NBNS    = 11
	CfgInternalIP6DHCP    = 12
	CfgInternalIP4Subnet  = 13
	CfgSupportedAttrs     = 14
	CfgInternalIP6Subnet  = 15

	XAuthType      = 16520
	XAuthUserName  = 16521
	XAuthPassword  = 16522
	XAuthPasscode  = 16523
	XAuthMessage   = 16524
	XAuthChallenge = 16525
	XAuthDomain    = 16526
	XAuthStatus    = 16527
	XAuthNextPin   = 16528
	XAuthAnswer    = 16529

	UnityBanner        = 28672
	UnitySavePasswd    = 28673
	UnityDefDomain     = 28674
	UnitySplitDNS      = 28675
	UnitySplitInclude  = 28676
	UnityNATTPort      = 28677
	UnityLocalLAN      = 28678
	UnityPFS           = 28679
	UnityFWType        = 28680
	UnityBackupServers = 28681
	UnityDDNSHostname  = 28682
)

func name[K ~uint8 | ~uint16](m map[K]string, k K, prefix string) string {
	if s, ok := m[k]; ok {
		return s
	}
	return prefix + "(" + strconv.Itoa(int(k)) + ")"
}
