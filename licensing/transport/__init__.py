"""The device-facing endpoints: /SmartTransport, the Call Home DeviceRequestHandler, the SLP
CSLU push. One parser and one pipeline (``processing``); the rules live in licensing.services."""
