"""zh-hans numbers with thousands separators where a template asks for them (`floatformat:"0g"`,
`"2g"`): 1,997,978 名会员, 18,010,866.00 元. Django's zh_Hans sets no separator at all, so every
such count on the pages read as bare digits; Chinese statistical and financial tables group by
three with a comma (GB/T 15835), as the portal's own messages already do (f"{amount:,.2f}").
Everything else falls through to Django's zh_Hans formats."""

THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
