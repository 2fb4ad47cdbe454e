// The codec arrives with the gateway issue.
