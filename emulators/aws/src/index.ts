// Placeholder until this workspace is built (see the open issues); keeps tsc -b project references valid.
export {};
