package aws

// SetPageSize makes c's Describe calls ask for n IDs at a time, so that
// tests can see pages without making hundreds of objects.
func SetPageSize(c *Client, n int) { c.pageSize = n }
