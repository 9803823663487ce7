module refundtool/events/contracts/go

go 1.24
